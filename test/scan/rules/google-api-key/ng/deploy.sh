#!/bin/sh
export GOOGLE_API_KEY='AI{{}}za{{b64u:35}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
