#!/bin/sh
export ETSY_API_KEY={{hex:24}}
./run --deploy
