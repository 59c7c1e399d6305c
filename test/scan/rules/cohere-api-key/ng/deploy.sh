#!/bin/sh
export COHERE_API_KEY={{alnum:40}}
./run --deploy
