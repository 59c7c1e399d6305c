#!/bin/sh
export TRAVIS_TOKEN='{{alnum:22}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
