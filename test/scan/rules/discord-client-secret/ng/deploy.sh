#!/bin/sh
export DISCORD_CLIENT_SECRET={{b64u:32}}
./run --deploy
