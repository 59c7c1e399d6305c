#!/bin/sh
export SETTLEMINT_ACCESS_TOKEN='sm_{{}}aat_{{alnum:16}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
