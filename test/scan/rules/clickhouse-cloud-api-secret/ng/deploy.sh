#!/bin/sh
export CLICKHOUSE_KEY_SECRET='4b{{}}1d{{alnum:38}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
