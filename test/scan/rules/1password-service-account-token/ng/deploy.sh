#!/bin/sh
export OP_SERVICE_ACCOUNT_TOKEN='op{{}}s_eyJ{{b64:622}}=='
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
