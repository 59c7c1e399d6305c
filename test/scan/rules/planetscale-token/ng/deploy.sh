#!/bin/sh
export DATABASE_PASSWORD='pscale{{}}_pw_{{alnum:43}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
