#!/bin/sh
export DUFFEL_ACCESS_TOKEN='duf{{}}fel_test_{{b64u:43}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
