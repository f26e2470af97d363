#!/usr/bin/env bash
# Fetches (never installs) the Debian packages the lab boots: kernels 6.1 (bookworm) and 6.12
# (bookworm-backports), 6.12 (trixie), 6.18 and the newest 7.x (trixie-backports) for amd64 and
# arm64 (common.sh, lab_kernels), busybox-static for both, and linux-source-6.12.
# Extracts each kernel into $cache/kernels/<arch>-<abi>/ and runs depmod (modules stay
# compressed; run.sh decompresses the few the guest loads, for busybox insmod), and writes $cache/kernels/<arch>.abis ("KEY ABI" lines).
# Idempotent: what is cached is not fetched again.
# Usage: fetch.sh            (prints nothing on stdout; progress on stderr)
set -euo pipefail
source "$(dirname "$0")/common.sh"

# names ARCH PREFIX RE: the ABIs of the packages PREFIX-<abi>-ARCH whose ABI matches RE.
names() {
  apt_private "$1" apt-cache search --names-only "^$2-${3}-$1\$" |
    awk '{print $1}' | sed "s/^$2-//; s/-$1\$//" | sort -V
}

# resolve_kernel ARCH PIN SERIES_REGEX: prints the ABI name to use (PIN if the archive still
# has it, else the newest one of the series). From 6.19 the image is a metapackage over
# linux-binary-<abi> and linux-modules-<abi>; an ABI whose binary is there without its modules
# (6.19 in trixie-backports) cannot boot the lab's guest and is never taken.
resolve_kernel() {
  local arch="$1" pin="$2" re="$3" avail
  avail=$(comm -23 <(names "$arch" linux-image "$re" | sort) \
    <(comm -23 <(names "$arch" linux-binary "$re" | sort) <(names "$arch" linux-modules "$re" | sort)) |
    sort -V)
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

# extract_kernel ARCH ABI: unpacks linux-image-ABI-ARCH (or, when that is only a metapackage,
# linux-binary-ABI-ARCH and linux-modules-ABI-ARCH) into $cache/kernels/ARCH-ABI.
extract_kernel() {
  local arch="$1" abi="$2" out="$cache/kernels/$1-$2"
  [ -f "$out/.done" ] && return 0
  local deb; deb=$(download "$arch" "linux-image-$abi-$arch")
  rm -rf "$out"; mkdir -p "$out"
  dpkg-deb -x "$deb" "$out"
  if [ ! -d "$out/boot" ]; then
    dpkg-deb -x "$(download "$arch" "linux-binary-$abi-$arch")" "$out"
    dpkg-deb -x "$(download "$arch" "linux-modules-$abi-$arch")" "$out"
  fi
  # trixie ships the modules in /usr/lib/modules (merged /usr); depmod -b wants lib/modules.
  [ -e "$out/lib" ] || ln -s usr/lib "$out/lib"
  depmod -b "$out" "$abi-$arch"
  touch "$out/.done"
  log "kernel $arch $abi ready"
}

apt_ready() {  # refresh private lists (of APT_DIST) when older than a day
  local arch="$1" d="$cache/apt/$1"
  [ "${APT_DIST:-bookworm}" = bookworm ] || d="$d-$APT_DIST"
  local stamp="$d/lists/.stamp"
  if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
    apt_private "$arch" apt-get update >&2 && touch "$stamp"
  fi
}

mkdir -p "$cache/kernels"
for arch in amd64 arm64; do
  abis=""
  while read -r key dist pin re <&3; do
    # run.sh names the kernels its configurations boot; without it, every one.
    if [ -n "${IOVAMAP_LAB_KERNEL_KEYS:-}" ] && [[ " $IOVAMAP_LAB_KERNEL_KEYS " != *" $arch:$key "* ]]; then
      continue
    fi
    export APT_DIST="$dist"
    apt_ready "$arch"
    abi=$(resolve_kernel "$arch" "$pin" "$re")
    extract_kernel "$arch" "$abi"
    abis+="$key $abi"$'\n'
  done 3< <(lab_kernels)
  # busybox-static comes from bookworm, whose lists a selection of trixie kernels alone (or
  # none, for this architecture) has not readied.
  export APT_DIST=bookworm
  apt_ready "$arch"
  printf '%s' "$abis" > "$cache/kernels/$arch.abis.tmp"
  mv "$cache/kernels/$arch.abis.tmp" "$cache/kernels/$arch.abis"
  bb=$(download "$arch" busybox-static)
  if [ ! -x "$cache/busybox-$arch" ]; then
    tmp=$(mktemp -d); dpkg-deb -x "$bb" "$tmp"; cp "$tmp/bin/busybox" "$cache/busybox-$arch"; rm -rf "$tmp"
  fi
done
download amd64 linux-source-6.12 > "$cache/linux-source.path"
log "fetch done"
