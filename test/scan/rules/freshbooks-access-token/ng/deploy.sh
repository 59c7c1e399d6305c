#!/bin/sh
export FRESHBOOKS_ACCESS_TOKEN={{hex:64}}
./run --deploy
