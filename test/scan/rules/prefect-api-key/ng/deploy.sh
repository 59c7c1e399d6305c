#!/bin/sh
export PREFECT_API_KEY='pn{{}}u_{{alnum:36}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
