#!/bin/sh
export VERCEL_TOKEN='vc{{}}k_{{alnum:40}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
