#!/bin/sh
# Build the LD_PRELOAD capture shim with the machine's C compiler.
#   sh tools/capture/build.sh [OUTPUT.so]     (default: dist/capture/libiorewind_capture.so)
# CC and CFLAGS are honoured. Run from anywhere.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/../../dist/capture/libiorewind_capture.so"}
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
${CC:-cc} -shared -fPIC -O2 -g -Wall -Wextra -fvisibility=hidden ${CFLAGS:-} \
  -o "$out" "$here/iorewind_capture.c" -ldl -pthread
echo "$out"
