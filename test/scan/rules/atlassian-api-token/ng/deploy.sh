#!/bin/sh
export ATLASSIAN_API_TOKEN='ATA{{}}TT3{{alnum:180}}=0A1B2C3D'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
