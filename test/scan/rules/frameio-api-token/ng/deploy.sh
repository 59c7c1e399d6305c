#!/bin/sh
export FRAMEIO_TOKEN='fio{{}}-u-{{b64u:64}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
