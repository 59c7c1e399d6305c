#!/bin/sh
export FASTLY_API_TOKEN={{b64u:32}}
./run --deploy
