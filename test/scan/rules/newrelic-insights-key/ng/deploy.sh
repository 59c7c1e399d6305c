#!/bin/sh
export NEW_RELIC_QUERY_KEY='NR{{}}IQ-{{b64u:32}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
