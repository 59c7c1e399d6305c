#!/bin/sh
export SONAR_TOKEN='{{hex:40}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
