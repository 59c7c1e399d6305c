#!/bin/sh
export DD_API_KEY={{hex:32}}
./run --deploy
