#!/bin/sh
export SLACK_TOKEN='xo{{}}xp-{{digit:12}}-{{digit:12}}-{{digit:13}}-{{hex:32}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
