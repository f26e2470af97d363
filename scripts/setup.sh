#!/usr/bin/env bash
# Installs everything iovamap needs to build, test, benchmark and fuzz, from Debian packages.
# Idempotent: packages already present are skipped. Needs root (or sudo).
# Usage: scripts/setup.sh [EXTRA_PACKAGE...]   (extra packages, e.g. tests/lab/setup.sh's)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git  # build
  clang-14 libclang-rt-14-dev libfuzzer-14-dev      # clang builds, sanitizers, libFuzzer
  nlohmann-json3-dev    # JSON output and snapshot manifests (header-only)
  libcli11-dev          # command-line parsing (header-only)
  libtomlplusplus-dev   # topology files (used header-only)
  libgtest-dev libgmock-dev librapidcheck-dev  # unit and property tests
  libbenchmark-dev      # benchmarks
  libxml2-dev           # libvirt domain XML for vm-check (src/vm_libvirt.cc): the XML library libvirt itself uses, with line numbers for errors, no network, entity limits
  libpci-dev            # PCI vendor/device/class names (tool/pci_names.h); lspci's -s/-d oracle in tests
  pci.ids               # the PCI ID database those names come from
  pciutils              # lspci, whose output the PCI-name tests compare with
  python3-jsonschema    # tests/json_schema_test.py: real JSON output against docs/iovamap.schema.json
  groff-base            # tests/man_pages_render.sh: man/iovamap.1 and .3 render without warnings
  debhelper lintian     # debian/: dpkg-buildpackage -us -uc -b, and lintian on the packages
  chromium              # tests/svg_render_test.py: the --format svg pictures rendered headless (80 s to install here: 122 MB, 412 MB on disk)
  zsh                   # tests/zsh_completion_test.zsh: the zsh completion (completion/_iovamap)
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
