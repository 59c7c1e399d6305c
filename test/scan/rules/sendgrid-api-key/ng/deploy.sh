#!/bin/sh
export SENDGRID_API_KEY='S{{}}G.{{b64u:22}}.{{b64u:43}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
