#!/bin/sh
export BREVO_API_KEY='xsmtp{{}}sib-{{hex:64}}-{{alnum:16}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
