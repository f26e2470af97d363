#!/usr/bin/env bash
# nested_qemu.sh OUT: writes OUT, a gzip'd cpio that boot.sh appends to the initramfs of the
# configurations configs.sh guest_extra names (the kernel unpacks concatenated archives in
# turn): this machine's qemu-system-x86_64 (Debian 12's QEMU 7.2), every shared library `ldd`
# lists at the path it lists, its TCG module, the two files QEMU opens at start without any
# firmware running (SeaBIOS's bios-256k.bin, which q35 loads as its ROM, and kvmvapic.bin,
# which the PC machines load even under TCG), and guest/vfio_e2e as /bin/lab_guest_extra, which guest/init
# runs last. Rebuilt only when the QEMU binary or the script changed (OUT.key).
set -euo pipefail
source "$(dirname "$0")/common.sh"
out="$1"
qemu=/usr/bin/qemu-system-x86_64
key=$(cat "$qemu" "$lab_dir/guest/vfio_e2e" "$lab_dir/nested_qemu.sh" | sha256sum | cut -c1-16)
if [ -s "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# copy_to_root FILE [DEST]: FILE's content (symlinks followed) at DEST (default FILE) in the cpio.
copy_to_root() { mkdir -p "$tmp$(dirname "${2:-$1}")"; cp -L "$1" "$tmp${2:-$1}"; }
copy_to_root "$qemu"
for lib in $(ldd "$qemu" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
  copy_to_root "$lib"
done
# TCG is a loadable module in Debian's build ("could not load module for type
# 'tcg-accel-ops'" without it; it needs libc only).
copy_to_root /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so
# QEMU looks for its data next to its binary (../share/seabios, ../share/qemu).
copy_to_root /usr/share/seabios/bios-256k.bin
copy_to_root /usr/share/qemu/kvmvapic.bin
copy_to_root "$lab_dir/guest/vfio_e2e" /bin/lab_guest_extra
chmod +x "$tmp/bin/lab_guest_extra"
(cd "$tmp" && find . -mindepth 1 | sort | cpio -o -H newc --quiet | gzip -1) > "$out.tmp"
mv "$out.tmp" "$out"
echo "$key" > "$out.key"
