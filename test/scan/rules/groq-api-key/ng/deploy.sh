#!/bin/sh
export GROQ_API_KEY='gs{{}}k_{{alnum:52}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
