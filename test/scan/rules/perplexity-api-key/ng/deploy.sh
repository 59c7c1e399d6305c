#!/bin/sh
export PERPLEXITY_API_KEY='pp{{}}lx-{{alnum:48}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
