#!/bin/sh
export KRAKEN_PRIVATE_KEY={{b64:86}}==
./run --deploy
