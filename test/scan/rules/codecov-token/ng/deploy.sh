#!/bin/sh
export CODECOV_TOKEN={{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}
./run --deploy
