#!/bin/sh
export POSTMAN_API_KEY='PM{{}}AK-{{hex:24}}-{{hex:34}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
