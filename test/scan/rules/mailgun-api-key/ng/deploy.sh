#!/bin/sh
export MAILGUN_KEY='{{hex:32}}-{{hex:8}}-{{hex:8}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
