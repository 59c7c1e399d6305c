#!/bin/sh
export TYPEFORM_TOKEN='tf{{}}p_{{alnum:44}}_{{alnum:14}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
