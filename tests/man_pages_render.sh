#!/bin/sh
# The man pages render without a single warning, as man(1) would format them.
# Usage: tests/man_pages_render.sh PAGE...
set -eu
for page in "$@"; do
  out=$(groff -man -Tutf8 -ww -z "$page" 2>&1) || { echo "$page: groff failed: $out"; exit 1; }
  if [ -n "$out" ]; then
    echo "$page:"
    echo "$out"
    exit 1
  fi
done
echo "man pages render without warnings: $*"
