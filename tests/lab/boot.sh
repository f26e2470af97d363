#!/usr/bin/env bash
# boot.sh NAME ARCH K: boots one lab configuration (run.sh prepared the initramfs and exported
# IOVAMAP_LAB_OUT and built_kernel); its console goes to $out/NAME/console.log and the guest's
# results are unpacked next to it. A guest that brings back nothing is booted once more; then
# $out/NAME/FAILED says why.
set -uo pipefail
source "$(dirname "$0")/common.sh"
source "$lab_dir/configs.sh"
name="$1" arch="$2" k="$3"
out="$IOVAMAP_LAB_OUT"
dir="$out/$name"

image() {
  local debarch abi
  if [ "$k" = built ]; then printf '%s\n' "$built_kernel"; return; fi
  debarch=$(debarch "$arch")
  abi=$(kernel_abi "$debarch" "$k")
  # From 6.19 Debian's kernel image sits in the modules directory (linux-binary-*).
  local kd="$cache/kernels/$debarch-$abi"
  if [ -f "$kd/boot/vmlinuz-$abi-$debarch" ]; then
    printf '%s\n' "$kd/boot/vmlinuz-$abi-$debarch"
  else
    printf '%s\n' "$kd/lib/modules/$abi-$debarch/vmlinuz"
  fi
}

# A firmware table from the initrd (configs.sh acpi_override): its uncompressed cpio goes
# before the initramfs, where the kernel's acpi_table_upgrade looks for it.
initrd="$out/initramfs-$arch-$k.cpio.gz"
override=$(acpi_override "$name")
if [ -n "$override" ]; then
  # Afresh: a table an earlier run wrote and this one does not would be checked against sysfs.
  rm -rf "$out/acpi-$name"; mkdir -p "$out/acpi-$name"
  # shellcheck disable=SC2086
  python3 "$lab_dir/acpi_tables.py" build $override "$out/acpi-$name" ||
    { mkdir -p "$dir"; echo "acpi_tables.py failed for $override" > "$dir/FAILED"; exit 0; }
  cat "$out/acpi-$name/acpi.cpio" "$initrd" > "$out/acpi-$name/initrd"
  initrd="$out/acpi-$name/initrd"
fi

# The nested QEMU of the end-to-end vm-check (configs.sh guest_extra): its cpio goes after the
# initramfs and brings /bin/lab_guest_extra, which guest/init runs last.
if [ -n "$(guest_extra "$name")" ]; then
  "$lab_dir/nested_qemu.sh" "$out/nested-qemu-$name.cpio.gz" ||
    { mkdir -p "$dir"; echo "nested_qemu.sh failed" > "$dir/FAILED"; exit 0; }
  cat "$initrd" "$out/nested-qemu-$name.cpio.gz" > "$out/initrd-$name"
  initrd="$out/initrd-$name"
fi

qemu=$([ "$arch" = x86_64 ] && echo qemu-system-x86_64 || echo qemu-system-aarch64)
for attempt in 1 2; do
  rm -rf "$dir"; mkdir -p "$dir"
  cp "$cache/nvme.img" "$dir/nvme.img"
  t=$(date +%s.%N)
  # shellcheck disable=SC2046
  timeout 300 "$qemu" $(qemu_args "$name" "$dir/nvme.img" /usr/share/qemu-efi-aarch64/QEMU_EFI.fd) \
    -nographic -no-reboot -serial "file:$dir/console.log" -monitor none \
    -kernel "$(image)" -initrd "$initrd" \
    -append "$(kernel_args "$name") lab.config=$name" >/dev/null 2>"$dir/qemu.err"
  echo "$(date +%s.%N) $t" | awk '{printf "%.1f\n", $1 - $2}' > "$dir/boot.seconds"
  rm -f "$dir/nvme.img"
  [ -z "$override" ] || cp "$out/acpi-$name/"*.aml "$dir/"
  if sed -n '/=====LAB-BEGIN=====/,/=====LAB-END=====/p' "$dir/console.log" | tr -d '\r' |
      grep -v '=====LAB-' | base64 -d 2>/dev/null | tar -xzf - -C "$dir" 2>/dev/null; then
    echo "$attempt" > "$dir/attempts"
    exit 0
  fi
  cp "$dir/console.log" "$out/$name.console.attempt$attempt.log"
  log "$name: no results from the guest (attempt $attempt)"
done
echo "no results from the guest (see $dir/console.log)" > "$dir/FAILED"
