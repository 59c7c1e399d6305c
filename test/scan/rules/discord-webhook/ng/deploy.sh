#!/bin/sh
export DISCORD_WEBHOOK='https://discordapp.com/api/{{}}webhooks/{{digit:18}}/{{b64u:68}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
