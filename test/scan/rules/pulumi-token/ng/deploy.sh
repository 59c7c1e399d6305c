#!/bin/sh
export PULUMI_TOKEN='pu{{}}l-{{hex:40}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
