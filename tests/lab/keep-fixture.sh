#!/usr/bin/env bash
# keep-fixture.sh DIR DEST: keeps one configuration's results as a golden fixture: the sysfs
# snapshot root/ (real symlinks) and the kernel's answers expected/, minus logs.
set -euo pipefail
src="$1"; dst="$2"
rm -rf "$dst"; mkdir -p "$dst"
cp -a "$src/root" "$dst/root"
mkdir -p "$dst/expected"
for f in "$src"/expected/*; do
  # iovamap_regions.<g> equal reserved_regions.<g> (check.sh insists); the .result file says so.
  case "${f##*/}" in insmod.log|probe.log|iovamap_regions.[0-9]*) ;; *) cp -a "$f" "$dst/expected/" ;; esac
done
