#!/usr/bin/env bash
# Builds the lab's small x86_64 kernel with iommufd and the VFIO cdev (no Debian x86 kernel
# enables them) from Debian's linux-source-6.12, only when the cache lacks one for this
# fragment and source version. Prints the bzImage path on stdout.
# Takes ~5 minutes on 2 cores; IOVAMAP_LAB_JOBS overrides the make -j (default 2).
set -euo pipefail
source "$(dirname "$0")/common.sh"

src_deb=$(cat "$cache/linux-source.path" 2>/dev/null || true)
[ -f "$src_deb" ] || die "linux-source-6.12 .deb missing: run tests/lab/fetch.sh first"
src_ver=$(dpkg-deb -f "$src_deb" Version)
key=$( (cat "$lab_dir/iommufd.config"; echo "$src_ver") | sha256sum | cut -c1-16)
out="$cache/built/$key"
if [ -f "$out/bzImage" ]; then printf '%s\n' "$out/bzImage"; exit 0; fi

log "building the iommufd kernel ($src_ver, key $key); this takes several minutes"
work="$cache/built/work-$key"
rm -rf "$work"; mkdir -p "$work"
dpkg-deb --fsys-tarfile "$src_deb" | tar -x -C "$work" --wildcards './usr/src/linux-source-*.tar.xz'
tar -xJf "$work"/usr/src/linux-source-*.tar.xz -C "$work"
ksrc=$(ls -d "$work"/linux-source-*/)
make -C "$ksrc" -s tinyconfig >&2
"$ksrc/scripts/kconfig/merge_config.sh" -m -O "$ksrc" "$ksrc/.config" "$lab_dir/iommufd.config" >&2
make -C "$ksrc" -s olddefconfig >&2
# Every fragment line must survive olddefconfig (a missing dependency silently drops it).
missing=$(grep '^CONFIG_' "$lab_dir/iommufd.config" | while read -r l; do grep -qxF "$l" "$ksrc/.config" || echo "$l"; done)
[ -z "$missing" ] || die "config options dropped by olddefconfig: $missing"
make -C "$ksrc" -s -j"${IOVAMAP_LAB_JOBS:-2}" bzImage >&2
mkdir -p "$out"
cp "$ksrc/arch/x86/boot/bzImage" "$out/bzImage.tmp"
cp "$ksrc/.config" "$out/config"
mv "$out/bzImage.tmp" "$out/bzImage"
rm -rf "$work"
log "built $out/bzImage"
printf '%s\n' "$out/bzImage"
