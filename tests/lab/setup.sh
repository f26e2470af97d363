#!/usr/bin/env bash
# Installs the host packages the QEMU lab needs (Debian packages only), on top of
# scripts/setup.sh's: QEMU for x86_64 and arm64 with the arm64 UEFI firmware, the arm64 cross
# compiler for the static guest program, what building the small kernel takes, and OVMF
# (x86_64 UEFI) for the VM layout lab's BAR placements (tests/vm_lab).
# Extra packages given as arguments are installed too. Idempotent; needs root (or sudo).
set -euo pipefail
exec "$(dirname "$0")/../../scripts/setup.sh" \
  qemu-system-x86 qemu-system-arm qemu-efi-aarch64 ipxe-qemu ovmf \
  g++-aarch64-linux-gnu libc6-dev-arm64-cross \
  flex bison bc libelf-dev libssl-dev make xz-utils zstd \
  cpio kmod gzip "$@"
