#!/bin/sh
export NETLIFY_TOKEN={{hex:64}}
