#!/bin/sh
export REPLICATE_API_TOKEN='r{{}}8_{{alnum:37}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
