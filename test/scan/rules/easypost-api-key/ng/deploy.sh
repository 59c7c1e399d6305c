#!/bin/sh
export EASYPOST_API_KEY='EZ{{}}TK{{alnum:54}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
