#!/bin/sh
bundle config --local gems.contrib{{}}sys.com {{hex:8}}:{{hex:8}}
