#!/bin/sh
export TWILIO_API_KEY='S{{}}K{{hex:32}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
