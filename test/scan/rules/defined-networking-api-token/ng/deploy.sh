#!/bin/sh
export DN_API_KEY='dn{{}}key-{{alnum:26}}-{{alnum:52}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
