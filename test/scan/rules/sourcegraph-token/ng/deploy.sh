#!/bin/sh
export SRC_ACCESS_TOKEN='sg{{}}p_{{hex:40}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
