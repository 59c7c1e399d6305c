#!/bin/sh
export FT_CLIENT_SECRET='s-s4{{}}t2af-{{hex:64}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
