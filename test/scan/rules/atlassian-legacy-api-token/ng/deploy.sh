#!/bin/sh
export JIRA_API_TOKEN={{alnum:24}}
./run --deploy
