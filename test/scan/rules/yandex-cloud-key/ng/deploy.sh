#!/bin/sh
export YANDEX_SECRET_ACCESS_KEY='Y{{}}C{{b64u:38}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
