#!/bin/sh
export TS_AUTHKEY='ts{{}}key-auth-k{{alnum:11}}CNTRL-{{alnum:33}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
