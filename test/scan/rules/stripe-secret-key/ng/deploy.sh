#!/bin/sh
export STRIPE_SECRET_KEY='rk_{{}}test_{{alnum:99}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
