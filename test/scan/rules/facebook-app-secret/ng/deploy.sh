#!/bin/sh
export FACEBOOK_APP_SECRET={{hex:32}}
./run --deploy
