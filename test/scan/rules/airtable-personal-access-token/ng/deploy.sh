#!/bin/sh
export AIRTABLE_TOKEN='pa{{}}t{{alnum:14}}.{{hex:64}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
