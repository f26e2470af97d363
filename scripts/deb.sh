#!/usr/bin/env bash
# Builds the Debian packages (debian/) from a copy of the tree, so that nothing is written
# into the checkout or its parent, and runs lintian on them (errors fail).
# Usage: scripts/deb.sh [OUT_DIR]   (default: a new temporary directory; the .deb files and
#        the lintian report are left there, and its path printed)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$(mktemp -d)}
mkdir -p "$out"
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
tree=$out/iovamap-$version
rm -rf "$tree"
mkdir -p "$tree"
# The files git knows (tracked or not ignored), as they are now.
(cd "$src" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$src" && xargs -0 cp -P --parents -t "$tree" 2>/dev/null || true)
(cd "$tree" && dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1) ||
  { tail -40 "$out/build.log"; echo "deb: dpkg-buildpackage failed ($out/build.log)"; exit 1; }
changes=$(ls "$out"/iovamap_"$version"_*.changes)
lintian --fail-on error --display-info "$changes" | tee "$out/lintian.txt" ||
  { echo "deb: lintian reports errors ($out/lintian.txt)"; exit 1; }
echo "deb: packages in $out:"
ls -1 "$out"/*.deb
