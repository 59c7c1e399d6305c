#!/bin/sh
export AWS_BEARER_TOKEN_BEDROCK='bedrock-api-{{}}key-YmVkcm9jay5hbWF6b25hd3MuY29t{{b64:600}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
