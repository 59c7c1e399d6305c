#!/bin/sh
export FLY_API_TOKEN='fo{{}}1_{{b64u:43}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
