#!/bin/sh
export MERAKI_DASHBOARD_API_KEY={{hex:40}}
./run --deploy
