#!/bin/sh
export FINICITY_APP_KEY={{hex:32}}
./run --deploy
