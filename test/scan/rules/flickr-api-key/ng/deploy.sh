#!/bin/sh
export FLICKR_API_KEY={{hex:32}}
./run --deploy
