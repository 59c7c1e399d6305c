#!/bin/sh
export BEAMER_API_KEY=b_{{b64u:44}}
./run --deploy
