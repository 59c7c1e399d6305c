#!/bin/sh
export NOTION_TOKEN='sec{{}}ret_{{upper:4}}{{digit:3}}{{lower:4}}{{alnum:32}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
