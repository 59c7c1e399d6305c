#!/bin/sh
export LOOKERSDK_CLIENT_SECRET='{{alnum:24}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
