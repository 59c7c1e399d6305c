#!/bin/sh
export BITTREX_API_KEY={{hex:32}}
./run --deploy
