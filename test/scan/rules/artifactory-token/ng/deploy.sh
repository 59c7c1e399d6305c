#!/bin/sh
export ARTIFACTORY_API_KEY='cmV{{}}md{{alnum:59}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
