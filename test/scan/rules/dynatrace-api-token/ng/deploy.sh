#!/bin/sh
export DT_API_TOKEN='dt0{{}}s01.{{UA:24}}.{{UA:64}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
