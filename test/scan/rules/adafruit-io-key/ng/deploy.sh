#!/bin/sh
export ADAFRUIT_IO_KEY=a{{}}io_{{alnum:28}}
./run --deploy
