#!/bin/sh
export CLOUDFLARE_API_TOKEN='cf{{}}at_{{alnum:40}}{{hex:8}}'
export CLOUDFLARE_API_TOKEN_2='cf{{}}k_{{alnum:40}}{{hex:8}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
