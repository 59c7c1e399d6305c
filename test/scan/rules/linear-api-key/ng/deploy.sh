#!/bin/sh
export LINEAR_API_KEY='lin_{{}}api_{{alnum:40}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
