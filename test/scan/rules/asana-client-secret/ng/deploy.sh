#!/bin/sh
export ASANA_CLIENT_SECRET={{hex:32}}
./run --deploy
