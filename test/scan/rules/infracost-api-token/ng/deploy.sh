#!/bin/sh
export INFRACOST_API_KEY='ic{{}}o-{{alnum:32}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
