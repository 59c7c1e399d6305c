#!/bin/sh
export INTERCOM_ACCESS_TOKEN=dG9r{{}}Oj{{b64u:53}}=
./run --deploy
