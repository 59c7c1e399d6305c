#!/bin/sh
export HUBSPOT_API_KEY={{HEX:8}}-{{HEX:4}}-{{HEX:4}}-{{HEX:4}}-{{HEX:12}}
./run --deploy
