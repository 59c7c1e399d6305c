#!/bin/sh
export AWS_ACCESS_KEY_ID='AS{{}}IA{{b32:16}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
