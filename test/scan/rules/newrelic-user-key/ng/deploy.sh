#!/bin/sh
export NEWRELIC_USER_KEY='NR{{}}AK-{{UA:27}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
