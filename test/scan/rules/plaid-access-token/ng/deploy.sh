#!/bin/sh
export PLAID_ACCESS_TOKEN='access-{{}}production-{{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
