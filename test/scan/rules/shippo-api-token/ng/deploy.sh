#!/bin/sh
export SHIPPO_TOKEN='ship{{}}po_test_{{HEX:40}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
