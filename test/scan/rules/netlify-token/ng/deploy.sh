#!/bin/sh
export NETLIFY_AUTH_TOKEN='nf{{}}p_{{alnum:40}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
