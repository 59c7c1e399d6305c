#!/bin/sh
export COINBASE_ACCESS_TOKEN={{b64u:64}}
./run --deploy
