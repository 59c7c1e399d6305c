#!/bin/sh
export SCALINGO_API_TOKEN='tk-{{}}us-{{b64u:48}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
