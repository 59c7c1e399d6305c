#!/bin/sh
export HEROKU_API_KEY={{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}
./run --deploy
