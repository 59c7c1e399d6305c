#!/bin/sh
export SQUARE_TOKEN='sq0{{}}atp-{{b64u:22}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
