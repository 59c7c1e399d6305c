#!/bin/sh
export DOPPLER_TOKEN='dp.{{}}st.{{alnum:40}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
