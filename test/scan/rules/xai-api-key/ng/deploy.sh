#!/bin/sh
export XAI_API_KEY='xa{{}}i-{{alnum:80}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
