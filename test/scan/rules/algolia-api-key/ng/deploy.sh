#!/bin/sh
export ALGOLIA_ADMIN_KEY={{hex:32}}
./run --deploy
