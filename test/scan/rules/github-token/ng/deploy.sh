#!/bin/sh
export GITHUB_TOKEN='gh{{}}s_{{alnum:36}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
