#!/bin/sh
export GOOGLE_OAUTH_CLIENT_SECRET='GOC{{}}SPX-{{b64u:28}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
