#!/bin/sh
export ADOBE_CLIENT_SECRET='p8{{}}e-{{alnum:32}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
