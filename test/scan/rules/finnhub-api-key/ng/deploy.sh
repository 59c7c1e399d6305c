#!/bin/sh
export FINNHUB_API_KEY={{hex:20}}
./run --deploy
