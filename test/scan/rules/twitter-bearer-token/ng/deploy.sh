#!/bin/sh
export X_BEARER_TOKEN='AAAAAAAAAAAAAAAAAAAAA{{}}A{{alnum:90}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
