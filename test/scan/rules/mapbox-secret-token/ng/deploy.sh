#!/bin/sh
export MAPBOX_DOWNLOADS_TOKEN='s{{}}k.eyJ1Ijoi{{b64u:44}}.{{b64u:22}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
