#!/bin/sh
export FACEBOOK_ACCESS_TOKEN='EA{{}}AB{{alnum:120}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
