#!/bin/sh
export MAILCHIMP_API_KEY='{{hex:32}}-u{{}}s6'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
