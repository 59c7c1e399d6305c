#!/bin/sh
export CONTENTFUL_MANAGEMENT_TOKEN='CF{{}}PAT-{{b64u:43}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
