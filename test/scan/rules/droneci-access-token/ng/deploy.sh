#!/bin/sh
export DRONE_TOKEN={{alnum:32}}
./run --deploy
