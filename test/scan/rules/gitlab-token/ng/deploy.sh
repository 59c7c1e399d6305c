#!/bin/sh
export GITLAB_TOKEN='glr{{}}t-{{b64u:26}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
