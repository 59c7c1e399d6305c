#!/bin/sh
export AIRTABLE_API_KEY=ke{{}}y{{alnum:14}}
./run --deploy
