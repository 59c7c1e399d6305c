#!/bin/sh
export README_API_KEY='rd{{}}me_{{lower:35}}{{digit:35}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
