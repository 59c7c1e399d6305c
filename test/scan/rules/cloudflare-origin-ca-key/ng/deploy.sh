#!/bin/sh
export CF_ORIGIN_CA_KEY='v1.{{}}0-{{hex:24}}-{{hex:146}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
