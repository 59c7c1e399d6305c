#!/bin/sh
export TERRAFORM_CLOUD_TOKEN='{{alnum:14}}.atlas{{}}v1.{{b64u:62}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
