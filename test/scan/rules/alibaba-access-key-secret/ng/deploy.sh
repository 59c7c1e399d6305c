#!/bin/sh
export ALIBABA_CLOUD_ACCESS_KEY_SECRET={{alnum:30}}
./run --deploy
