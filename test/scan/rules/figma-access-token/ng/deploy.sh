#!/bin/sh
export FIGMA_TOKEN='fig{{}}d_{{b64u:60}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
