#!/usr/bin/env bash
# Builds the libFuzzer targets (clang 14, library instrumented) and runs each one on its corpus
# in fuzz/corpus/<name> for a short while: CI's fuzzing step. New inputs go to a scratch
# directory, never into the repo; a crash fails the script and leaves its input in
# $build/crashes. Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [BUILD_DIR]   (default 20, build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
build=${2:-build-fuzz}
CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DIOVAMAP_WERROR=ON -DIOVAMAP_FUZZ=ON \
  -DIOVAMAP_TESTS=OFF -DIOVAMAP_BENCH=OFF >/dev/null
ninja -C "$build"
mkdir -p "$build/crashes"
status=0
for source in fuzz/*_fuzz.cc; do
  name=$(basename "$source" .cc)
  corpus=fuzz/corpus/${name%_fuzz}
  scratch=$(mktemp -d)
  echo "=== $name: ${seconds}s on $corpus"
  if ! "$build/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$build/crashes/$name-" -print_final_stats=1 "$scratch" "$corpus" \
      2>"$build/$name.log"; then
    tail -40 "$build/$name.log"
    echo "FUZZ FAILURE: $name (input in $build/crashes)"
    status=1
  else
    grep -E "stat::number_of_executed_units|Done" "$build/$name.log" | tail -2
  fi
  rm -rf "$scratch"
done
exit $status
