#!/bin/sh
export DOCKERHUB_TOKEN='dckr{{}}_oat_{{b64u:32}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
