#!/bin/sh
export HUGGINGFACE_TOKEN='h{{}}f_{{lower:4}}{{alpha:26}}{{upper:4}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
