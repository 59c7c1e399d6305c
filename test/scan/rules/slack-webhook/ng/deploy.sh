#!/bin/sh
export SLACK_WEBHOOK='https://hooks.slack.com/{{}}services/T{{UA:9}}/B{{UA:11}}/{{alnum:24}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
