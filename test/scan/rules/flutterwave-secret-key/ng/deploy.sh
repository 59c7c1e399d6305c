#!/bin/sh
export FLW_SECRET_KEY='FLW{{}}SECK-{{hex:32}}-X'
export FLW_SECRET_KEY_2='FLW{{}}SECK_TEST{{hex:12}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
