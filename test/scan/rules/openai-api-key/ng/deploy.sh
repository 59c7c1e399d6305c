#!/bin/sh
export OPENAI_API_KEY='sk-{{alnum:20}}T3Blbk{{}}FJ{{alnum:20}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
