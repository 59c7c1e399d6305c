#!/bin/sh
export DATABRICKS_TOKEN='da{{}}pi{{hex:32}}-2'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
