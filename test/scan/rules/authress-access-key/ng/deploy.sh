#!/bin/sh
export AUTHRESS_KEY='sc_{{alnum:10}}.{{alnum:4}}.ac{{}}c_{{alnum:10}}.{{b64u:40}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
