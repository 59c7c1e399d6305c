#!/bin/sh
export GITHUB_FINE_GRAINED_TOKEN='github_{{}}pat_{{alnum:22}}_{{alnum:59}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
