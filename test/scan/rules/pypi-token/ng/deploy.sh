#!/bin/sh
export PYPI_TOKEN='py{{}}pi-AgEIcHlwaS5vcmc{{b64u:140}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
