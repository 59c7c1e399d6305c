#!/bin/sh
export PRIVATEAI_KEY='{{alnum:32}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
