#!/usr/bin/env bash
# The README's main command: sets up, builds, and runs `iovamap list` and `iovamap regions` on
# this host; when the host has no IOMMU groups (no IOMMU, or it is off, or a container hides
# them) it runs them on a bundled snapshot captured from a real 6.12 kernel instead, and says
# which it used.
# Usage: scripts/main.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build=${1:-build}
cmake -S . -B "$build" -G Ninja -DIOVAMAP_WERROR=ON >/dev/null
ninja -C "$build" iovamap >/dev/null
iovamap=("$build/iovamap")

if [ -n "$(ls -A /sys/kernel/iommu_groups 2>/dev/null)" ]; then
  echo "== Source: this host (live /sys)"
else
  snapshot=tests/data/snapshots/6.12-intel39/root
  echo "== Source: this host has no IOMMU groups, so using the bundled snapshot $snapshot"
  echo "   (captured from Debian's 6.12 kernel on QEMU with a 39-bit Intel VT-d; machine in"
  echo "   ${snapshot%/root}/expected/qemu.cmd)"
  iovamap+=(--root "$snapshot")
fi

echo
echo "== iovamap list"
"${iovamap[@]}" list
echo
echo "== iovamap regions"
"${iovamap[@]}" regions
