#!/bin/sh
export LD_SDK_KEY='sd{{}}k-{{hex:8}}-{{hex:4}}-{{hex:4}}-{{hex:4}}-{{hex:12}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
