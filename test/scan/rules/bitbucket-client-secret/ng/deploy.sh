#!/bin/sh
export BITBUCKET_CLIENT_SECRET={{alnum:32}}
./run --deploy
