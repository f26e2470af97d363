#!/usr/bin/env bash
# Sets up, builds (warnings are errors) and runs every unit, property and golden test.
# Usage: scripts/test.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build=${1:-build}
cmake -S . -B "$build" -G Ninja -DIOVAMAP_WERROR=ON ${IOVAMAP_CMAKE_ARGS:-} >/dev/null
ninja -C "$build"
# Thousands of cases per property (RapidCheck's default is 100).
export RC_PARAMS=${RC_PARAMS:-"max_success=2000"}
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
