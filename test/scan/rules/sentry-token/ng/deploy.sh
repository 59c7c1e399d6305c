#!/bin/sh
export SENTRY_TOKEN='sntr{{}}ys_eyJ{{b64u:80}}_{{b64:43}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
