#!/bin/sh
# Build the oracle executor: a static x86-64 program compiled with the
# machine's gcc against the oracle kit's 6.12 uapi headers.
#   sh tools/oracle/build.sh [OUTPUT]     (default: dist/oracle/executor)
# ORACLE_KIT (default ../shared/oracle next to the repository), CC, CFLAGS are honoured.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
kit=${ORACLE_KIT:-"$here/../../../shared/oracle"}
out=${1:-"$here/../../dist/oracle/executor"}
if ! command -v "${CC:-gcc}" >/dev/null 2>&1; then
  echo "oracle: no C compiler: apt-get install -y --no-install-recommends gcc libc6-dev" >&2
  exit 3
fi
if [ ! -f "$(${CC:-gcc} -print-file-name=libc.a)" ]; then
  echo "oracle: no static libc (libc.a): apt-get install -y --no-install-recommends libc6-dev" >&2
  exit 3
fi
if [ ! -f "$kit/include/linux/iommufd.h" ]; then
  echo "oracle: the oracle kit's headers are missing ($kit/include); set ORACLE_KIT" >&2
  exit 3
fi
mkdir -p "$(dirname "$out")"
${CC:-gcc} -static -O2 -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -isystem "$kit/include" ${CFLAGS:-} \
  -o "$out" "$here/executor.c"
echo "$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
