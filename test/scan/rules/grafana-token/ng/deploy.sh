#!/bin/sh
export GRAFANA_TOKEN='gl{{}}sa_{{alnum:32}}_{{HEX:8}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
