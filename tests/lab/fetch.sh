#!/usr/bin/env bash
# Fetches (never installs) the Debian packages the lab boots: kernels 6.1 (bookworm) and 6.12
# (bookworm-backports) for amd64 and arm64, busybox-static for both, and linux-source-6.12.
# Extracts each kernel into $cache/kernels/<arch>-<abi>/ with modules decompressed and depmod
# run, so busybox insmod can load them. Idempotent: what is cached is not fetched again.
# Usage: fetch.sh            (prints nothing on stdout; progress on stderr)
set -euo pipefail
source "$(dirname "$0")/common.sh"

# resolve_kernel ARCH PIN SERIES_REGEX: prints the ABI name to use (PIN if the archive still
# has it, else the newest one of the series).
resolve_kernel() {
  local arch="$1" pin="$2" re="$3" avail
  avail=$(apt_private "$arch" apt-cache search --names-only "^linux-image-${re}-${arch}\$" |
    awk '{print $1}' | sed "s/^linux-image-//; s/-${arch}\$//" | sort -V)
  if grep -qxF "$pin" <<<"$avail"; then printf '%s\n' "$pin"; return; fi
  local latest; latest=$(tail -n1 <<<"$avail")
  [ -n "$latest" ] || die "no linux-image-${re}-${arch} in the archive"
  log "pinned kernel $pin-$arch is gone; falling back to $latest"
  printf '%s\n' "$latest"
}

# cached_deb ARCH PKG: prints the path of PKG's .deb in $cache/debs (for ARCH or arch "all"),
# or nothing. Never fails: ls exits 2 when one of its two patterns matches nothing, which
# pipefail would turn into a failure of the caller under set -e.
cached_deb() {
  local arch="$1" pkg="${2%%:*}"
  ls "$cache"/debs/"$pkg"_*_"$arch".deb "$cache"/debs/"$pkg"_*_all.deb 2>/dev/null | head -n1 || true
}

# download ARCH PKG: ensures $cache/debs holds PKG's .deb; prints its path, or fails.
download() {
  local arch="$1" pkg="$2" f
  f=$(cached_deb "$arch" "$pkg")
  if [ -z "$f" ]; then
    mkdir -p "$cache/debs"
    (cd "$cache/debs" && apt_private "$arch" apt-get download "$pkg" >&2)
    f=$(cached_deb "$arch" "$pkg")
    [ -n "$f" ] || die "apt-get download $pkg left no .deb in $cache/debs"
  fi
  printf '%s\n' "$f"
}

# extract_kernel ARCH ABI: unpacks linux-image-ABI-ARCH into $cache/kernels/ARCH-ABI.
extract_kernel() {
  local arch="$1" abi="$2" out="$cache/kernels/$1-$2"
  [ -f "$out/.done" ] && return 0
  local deb; deb=$(download "$arch" "linux-image-$abi-$arch")
  rm -rf "$out"; mkdir -p "$out"
  dpkg-deb -x "$deb" "$out"
  find "$out/lib/modules" -name '*.ko.xz' -exec xz -d {} +
  find "$out/lib/modules" -name '*.ko.zst' -exec zstd -q -d --rm {} +
  depmod -b "$out" "$abi-$arch"
  touch "$out/.done"
  log "kernel $arch $abi ready"
}

apt_ready() {  # refresh private lists when older than a day
  local arch="$1" stamp="$cache/apt/$1/lists/.stamp"
  if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
    apt_private "$arch" apt-get update >&2 && touch "$stamp"
  fi
}

for arch in amd64 arm64; do
  apt_ready "$arch"
  k61=$(resolve_kernel "$arch" "$kver_61_pin" '6\.1\.0-[0-9]+')
  k612=$(resolve_kernel "$arch" "$kver_612_pin" '6\.12\.[0-9]+\+deb12(\.[0-9]+)?')
  extract_kernel "$arch" "$k61"
  extract_kernel "$arch" "$k612"
  printf '%s\n%s\n' "$k61" "$k612" > "$cache/kernels/$arch.versions"
  bb=$(download "$arch" busybox-static)
  if [ ! -x "$cache/busybox-$arch" ]; then
    tmp=$(mktemp -d); dpkg-deb -x "$bb" "$tmp"; cp "$tmp/bin/busybox" "$cache/busybox-$arch"; rm -rf "$tmp"
  fi
done
download amd64 linux-source-6.12 > "$cache/linux-source.path"
log "fetch done"
