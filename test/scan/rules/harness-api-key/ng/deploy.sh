#!/bin/sh
export HARNESS_API_KEY='sa{{}}t.{{b64u:22}}.{{alnum:24}}.{{alnum:20}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
