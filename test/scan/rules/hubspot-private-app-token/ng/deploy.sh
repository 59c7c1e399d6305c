#!/bin/sh
export HUBSPOT_ACCESS_TOKEN='pat{{}}-eu1-{{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
