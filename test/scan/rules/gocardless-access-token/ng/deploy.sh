#!/bin/sh
export GOCARDLESS_ACCESS_TOKEN=live_{{b64u:40}}
./run --deploy
