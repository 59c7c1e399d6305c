#!/bin/sh
export AGE_SECRET_KEY='AGE-SECRET-{{}}KEY-1{{bech:58}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
