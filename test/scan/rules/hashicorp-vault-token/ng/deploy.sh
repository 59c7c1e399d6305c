#!/bin/sh
export HASHICORP_VAULT_TOKEN='hv{{}}b.{{b64u:130}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
