#!/bin/sh
export GITTER_TOKEN={{hex:40}}
./run --deploy
