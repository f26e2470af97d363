#!/bin/sh
# libiovamap.so exports the C API and nothing else (src/libiovamap.map), under its SONAME.
# Usage: shared_library_exports.sh LIBIOVAMAP.so HEADER. Fails, listing the symbols, when the
# library exports a symbol that is not iovamap_*, or when a function the header declares is
# not exported.
set -eu
lib="$1"
header="$2"
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
case "$soname" in
  libiovamap.so.[0-9]*) ;;
  *) echo "SONAME is '$soname', not libiovamap.so.N"; exit 1 ;;
esac
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | sort -u)
extra=$(printf '%s\n' "$exported" | grep -v '^iovamap_' || true)
if [ -n "$extra" ]; then
  echo "libiovamap.so exports symbols outside the C API:"
  printf '%s\n' "$extra"
  exit 1
fi
declared=$(grep -oE '^[a-z_ *]*\biovamap_[a-z_0-9]+\(' "$header" | grep -oE 'iovamap_[a-z_0-9]+' | sort -u)
missing=$(printf '%s\n' "$declared" | grep -vxF "$exported" || true)
if [ -n "$missing" ]; then
  echo "declared in $header but not exported:"
  printf '%s\n' "$missing"
  exit 1
fi
echo "$soname: exports the $(printf '%s\n' "$exported" | wc -l) functions of $(basename "$header"), nothing else"
