#!/bin/sh
export HEROKU_API_KEY='HR{{}}KU-AA{{b64u:58}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
