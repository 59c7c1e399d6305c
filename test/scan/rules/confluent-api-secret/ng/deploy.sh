#!/bin/sh
export CONFLUENT_CLOUD_API_SECRET={{b64:64}}
./run --deploy
