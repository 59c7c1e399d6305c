#!/bin/sh
export ASANA_TOKEN='2/{{digit:16}}/{{digit:16}}:{{hex:32}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
