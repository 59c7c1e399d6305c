#!/bin/sh
export OP_SECRET_KEY='A{{}}3-{{UA:6}}-{{UA:6}}-{{UA:5}}-{{UA:5}}-{{UA:5}}-{{UA:5}}'
curl -H "Authorization: Bearer $TOKEN" https://example.invalid/
