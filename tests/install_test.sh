#!/usr/bin/env bash
# Builds both downstream examples against an installed iovamap as their users would:
# examples/c with pkg-config only, examples/cpp with find_package(iovamap). Runs them on a
# bundled snapshot and compares their usable ranges with `iovamap --format sysfs ranges` (the
# installed command) on the same device, and the two programs' whole outputs with each other.
# Also checks the installed tree's layout.
# Usage: tests/install_test.sh [BUILD_DIR]    install BUILD_DIR (default: build, already built)
#                                             into a temporary prefix and test that
#        tests/install_test.sh --prefix P     test what is installed in P already (/usr after
#                                             installing the Debian packages: .ci/run)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
root=$src/tests/data/snapshots/6.12-intel39/root
device=01:00.0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "${1:-}" = --prefix ]; then
  prefix=${2:?install_test: --prefix needs a directory}
  what="the iovamap installed in $prefix"
else
  build=$(cd "${1:-$src/build}" && pwd)
  prefix=$work/prefix
  cmake --install "$build" --prefix "$prefix" >/dev/null
  what="installed into a temporary prefix"
fi
# The library directory (lib, lib64, lib/<multiarch>), found from where iovamap.pc lies.
pc=$(find "$prefix"/lib* -maxdepth 3 -path '*/pkgconfig/iovamap.pc' 2>/dev/null | head -n 1)
[ -n "$pc" ] || { echo "install_test: no iovamap.pc under $prefix/lib*"; exit 1; }
libdir=${pc#"$prefix/"}
libdir=${libdir%/pkgconfig/iovamap.pc}
for f in bin/iovamap include/iovamap/iovamap.h include/iovamap/iova_allocator.h \
  "$libdir/libiovamap.a" "$libdir/libiovamap.so" "$libdir/libiovamap.so.0" \
  "$libdir/pkgconfig/iovamap.pc" "$libdir/cmake/iovamap/iovamapConfig.cmake" \
  "$libdir/cmake/iovamap/iovamapConfigVersion.cmake" share/man/man1/iovamap.1 \
  share/man/man3/iovamap.3 share/bash-completion/completions/iovamap \
  share/zsh/vendor-completions/_iovamap; do
  # (Debian's packages ship their man pages gzipped.)
  [ -e "$prefix/$f" ] || [ -e "$prefix/$f.gz" ] ||
    { echo "install_test: $f is not installed"; exit 1; }
done

# The C example: pkg-config and nothing else.
export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
cp "$src/examples/c/dma_driver.c" "$src/examples/c/Makefile" "$work/"
make -s -C "$work" dma_driver
# The C++ example: find_package(iovamap).
cmake -S "$src/examples/cpp" -B "$work/cpp" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cpp" >/dev/null

LD_LIBRARY_PATH=$prefix/$libdir "$work/dma_driver" "$root" "$device" >"$work/c.out"
"$work/cpp/dma_driver" "$root" "$device" >"$work/cpp.out"
"$prefix/bin/iovamap" --root "$root" --dma-limit "$device=40" --format sysfs ranges "$device" \
  >"$work/tool.out"
# The C program really ran on the installed shared library.
# (Compared as real paths: with a merged /usr, the loader may name /usr/lib's through /lib.)
used=$(LD_LIBRARY_PATH=$prefix/$libdir ldd "$work/dma_driver" |
  awk '$1 == "libiovamap.so.0" {print $3}')
[ -n "$used" ] && [ "$(readlink -f "$used")" = "$(readlink -f "$prefix/$libdir/libiovamap.so.0")" ] ||
  { echo "install_test: the C example does not use the installed libiovamap.so.0 ($used)"; exit 1; }

grep '^0x' "$work/c.out" >"$work/c.ranges"
if ! diff -u "$work/tool.out" "$work/c.ranges"; then
  echo "install_test: the C example's ranges differ from iovamap ranges"; exit 1
fi
if ! diff -u "$work/c.out" "$work/cpp.out"; then
  echo "install_test: the C and C++ examples disagree"; exit 1
fi
grep -q '^alloc ' "$work/c.out" && grep -q '^freed all: 0 live blocks' "$work/c.out" ||
  { echo "install_test: the examples did not allocate and free"; cat "$work/c.out"; exit 1; }
echo "install_test: $what; C (pkg-config) and C++ (find_package)"
echo "examples agree with 'iovamap ranges $device' ($(wc -l <"$work/tool.out") ranges):"
cat "$work/c.out"
