#!/bin/sh
export CLOUDFLARE_API_KEY={{hex:37}}
./run --deploy
