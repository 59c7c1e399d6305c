#!/bin/sh
export CLOJARS_PASSWORD='CLOJ{{}}ARS_{{hex:60}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
