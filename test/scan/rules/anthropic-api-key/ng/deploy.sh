#!/bin/sh
export ANTHROPIC_API_KEY='sk-ant-{{}}admin01-{{b64u:93}}AA'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
