#!/bin/sh
export DIGITALOCEAN_TOKEN='do{{}}o_v1_{{hex:64}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
