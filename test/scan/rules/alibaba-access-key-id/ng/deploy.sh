#!/bin/sh
export ALIBABA_CLOUD_ACCESS_KEY_ID='LT{{}}AI{{alnum:12}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
