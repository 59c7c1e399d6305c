SLACK_LEGACY_WORKSPACE_TOKEN = "xo{{}}xa-2-{{digit:9}}-{{digit:11}}-{{digit:13}}-{{hex:18}}"
"access_token6": "xo{{}}xs-{{digit:10}}-{{digit:10}}-{{digit:10}}-{{hex:10}}"
