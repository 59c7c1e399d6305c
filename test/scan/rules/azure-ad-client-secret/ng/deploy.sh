#!/bin/sh
export AZURE_AD_CLIENT_SECRET='{{alnum:3}}{{digit:1}}Q{{}}~{{alnum:31}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
