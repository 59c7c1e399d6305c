#!/bin/sh
export SHOPIFY_TOKEN='shp{{}}ss_{{hex:32}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
