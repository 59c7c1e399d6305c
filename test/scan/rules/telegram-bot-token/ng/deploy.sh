#!/bin/sh
export TELEGRAM_BOT_TOKEN='{{digit:9}}:A{{}}A{{b64u:33}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
