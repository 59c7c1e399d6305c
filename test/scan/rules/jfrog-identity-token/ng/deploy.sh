#!/bin/sh
export JFROG_IDENTITY_TOKEN={{alnum:64}}
./run --deploy
