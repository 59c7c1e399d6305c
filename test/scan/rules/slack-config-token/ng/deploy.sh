#!/bin/sh
export SLACK_CONFIG_REFRESH_TOKEN='xo{{}}xe-1-{{alnum:146}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
