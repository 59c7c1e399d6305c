#!/bin/sh
export KUCOIN_API_KEY={{hex:24}}
./run --deploy
