#!/bin/sh
export CONTENTFUL_DELIVERY_TOKEN={{b64u:43}}
./run --deploy
