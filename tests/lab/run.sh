#!/usr/bin/env bash
# The QEMU lab: boots real Debian kernels (6.1, 6.12, 6.18, 7.x; x86_64 and arm64) and a small
# built kernel with iommufd, each under emulated IOMMUs, and brings back what the kernel answered.
#
# Usage: tests/lab/run.sh [--update-fixtures] [CONFIG_GLOB...]
#   IOVAMAP_LAB_CACHE  download/build cache (default /var/cache/iovamap-lab)
#   IOVAMAP_LAB_OUT    results (default build/lab in the repo): <config>/{console.log,
#                      expected/, root/}
#   IOVAMAP_LAB_JOBS   parallel guests (default 2)
# --update-fixtures copies each configuration's answers into tests/data/lab-<config>/.
# Exit 0 when every configuration booted and its guest checks passed; otherwise 1, naming the
# failing configurations and showing both sides.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$lab_dir/configs.sh"

update=0
patterns=()
for a in "$@"; do
  case "$a" in
    --update-fixtures) update=1 ;;
    *) patterns+=("$a") ;;
  esac
done
out="${IOVAMAP_LAB_OUT:-$repo_dir/build/lab}"
jobs="${IOVAMAP_LAB_JOBS:-2}"
mkdir -p "$out"
t0=$(date +%s)

# Infrastructure (the mirror, the archive's current kernels, the kernel build) is outside our
# code: with IOVAMAP_LAB_SKIP_ON_INFRA=1 (CI) its failure skips the lab with a message.
infra_fail() {
  if [ "${IOVAMAP_LAB_SKIP_ON_INFRA:-0}" = 1 ]; then
    log "LAB SKIPPED: $* (infrastructure, not our code)"
    exit 0
  fi
  die "$*"
}
selected() {
  local name="$1" p
  [ ${#patterns[@]} -eq 0 ] && return 0
  for p in "${patterns[@]}"; do [[ "$name" == $p ]] && return 0; done
  return 1
}

mapfile -t configs < <(lab_configs | while read -r n a k; do selected "$n" && echo "$n $a $k"; done)
[ ${#configs[@]} -gt 0 ] || die "no configuration matches ${patterns[*]}"
# Only the kernels the selected configurations boot are fetched ("amd64:618 arm64:61 ...").
IOVAMAP_LAB_KERNEL_KEYS=$(for c in "${configs[@]}"; do
  read -r n a k <<<"$c"
  [ "$k" = built ] && k=612  # the built kernel's modules are not needed; keep its series' pin
  echo "$(debarch "$a"):$k"
done | sort -u | tr '\n' ' ')
export IOVAMAP_LAB_KERNEL_KEYS
"$lab_dir/fetch.sh" || infra_fail "fetching the Debian packages failed"
# fetch.sh must have resolved a kernel for every key it was given: a gap is our bug, not the
# archive's, and would otherwise surface only as guests that bring back nothing.
for c in "${configs[@]}"; do
  read -r n a k <<<"$c"
  [ "$k" = built ] && continue
  d=$(debarch "$a")
  [ -n "$(kernel_abi "$d" "$k")" ] || die "fetch.sh resolved no $d kernel for key $k ($n)"
done
# The iommufd kernel only when a selected configuration boots it (minutes on a cold cache).
built_kernel=""
if printf '%s\n' "${configs[@]}" | grep -q ' built$'; then
  built_kernel=$("$lab_dir/build-kernel.sh") || infra_fail "building the iommufd kernel failed"
fi
t_fetch=$(date +%s)

# Static guest programs for both architectures: lab_probe (raw ioctl captures, over the live
# layer only) and the iovamap command itself (every library source but those of tests,
# benchmarks and fuzzers, and the tool's sources; without libpci, so without device names).
# The cross compiler sees only the header-only packages the command needs (CLI11,
# nlohmann-json, toml++), through a directory of links, never /usr/include.
hdrs="$out/guest-headers"
mkdir -p "$hdrs"
for h in CLI nlohmann toml++; do [ -e "$hdrs/$h" ] || ln -s "/usr/include/$h" "$hdrs/$h"; done
probe_srcs=("$lab_dir/lab_probe.cc" "$repo_dir/src/vfio_live.cc" "$repo_dir/src/iommufd_live.cc"
            "$repo_dir/src/range.cc" "$repo_dir/src/result.cc")
mapfile -t cli_srcs < <(ls "$repo_dir"/src/*.cc "$repo_dir"/tool/*.cc | grep -Ev '_(test|bench|fuzz)\.cc$')
# build_static CXX ARCH: $out/lab_probe.ARCH and $out/iovamap.ARCH.
build_static() {
  local cxx="$1" arch="$2" objs="$out/obj-$2"
  local flags=(-std=c++20 -O1 -Wall -Wextra -Wno-missing-field-initializers -Wno-psabi -DTOML_HEADER_ONLY=1
               -I"$repo_dir/include" -I"$repo_dir/src" -I"$repo_dir/tool" -isystem "$hdrs")
  "$cxx" "${flags[@]}" -static "${probe_srcs[@]}" -o "$out/lab_probe.$arch" || return 1
  rm -rf "$objs"; mkdir -p "$objs"
  printf '%s\n' "${cli_srcs[@]}" |
    xargs -P "$jobs" -I{} sh -c '"$0" "$@" -c {} -o "'"$objs"'/$(basename {} .cc).o"' "$cxx" "${flags[@]}" ||
    return 1
  "$cxx" -static "$objs"/*.o -o "$out/iovamap.$arch" -pthread
}
# Rebuilt only when something they are built from changed, and only for the architectures the
# selected configurations boot. The key hashes every source and header, the compiler's
# version, the header-only packages' versions and this script (build_static's flags). Builds
# are also kept in $cache/guest/ARCH-KEY (the newest per architecture), so a fresh clone of
# the same sources, as CI's, takes them instead of compiling 70 files twice (minutes).
src_key=$(cat "$lab_dir/lab_probe.cc" "$repo_dir"/src/*.cc "$repo_dir"/src/*.h \
  "$repo_dir"/tool/*.cc "$repo_dir"/tool/*.h "$repo_dir"/include/iovamap/*.h "$lab_dir/run.sh" |
  sha256sum | cut -c1-16)
hdr_versions=$(dpkg-query -W libcli11-dev nlohmann-json3-dev libtomlplusplus-dev 2>/dev/null || true)
for arch in $(for c in "${configs[@]}"; do read -r n a k <<<"$c"; echo "$a"; done | sort -u); do
  cxx=$([ "$arch" = x86_64 ] && echo g++ || echo aarch64-linux-gnu-g++)
  probe_key=$(printf '%s\n%s\n%s\n' "$src_key" "$("$cxx" --version | head -n1)" "$hdr_versions" |
    sha256sum | cut -c1-16)
  kept="$cache/guest/$arch-$probe_key"
  if [ "$(cat "$out/lab_probe.key.$arch" 2>/dev/null)" != "$probe_key" ]; then
    rm -f "$out/lab_probe.key.$arch"
    if [ -x "$kept/lab_probe" ] && [ -x "$kept/iovamap" ]; then
      cp "$kept/lab_probe" "$out/lab_probe.$arch"
      cp "$kept/iovamap" "$out/iovamap.$arch"
      log "$arch guest programs from $kept"
    else
      build_static "$cxx" "$arch" || die "building the $arch guest programs failed"
      rm -rf "$cache/guest/$arch-"*
      mkdir -p "$kept.tmp"
      cp "$out/lab_probe.$arch" "$kept.tmp/lab_probe"
      cp "$out/iovamap.$arch" "$kept.tmp/iovamap"
      mv "$kept.tmp" "$kept"
    fi
    echo "$probe_key" > "$out/lab_probe.key.$arch"
  fi
done

# make_initramfs ARCH K: builds $out/initramfs-ARCH-K.cpio.gz with busybox, lab_probe, init
# and the modules the guest loads (ordered by modprobe --show-depends).
make_initramfs() {
  local arch="$1" k="$2" debarch abi kdir ver tmp key
  debarch=$(debarch "$arch")
  # Reused while the guest program, init and the kernel are the same.
  key=$(cat "$out/lab_probe.key.$arch" "$lab_dir/guest/init" "$cache/kernels/$debarch.abis" |
    sha256sum | cut -c1-16)
  if [ -s "$out/initramfs-$arch-$k.cpio.gz" ] &&
     [ "$(cat "$out/initramfs-$arch-$k.key" 2>/dev/null)" = "$key" ]; then
    return 0
  fi
  tmp=$(mktemp -d)
  mkdir -p "$tmp"/{bin,proc,sys,dev,lib/modules,out}
  cp "$cache/busybox-$debarch" "$tmp/bin/busybox"
  for app in $("$cache/busybox-amd64" --list); do [ "$app" = busybox ] || ln -sf busybox "$tmp/bin/$app"; done
  cp "$out/lab_probe.$arch" "$tmp/bin/lab_probe"
  cp "$out/iovamap.$arch" "$tmp/bin/iovamap"
  cp "$lab_dir/guest/init" "$tmp/init"
  : > "$tmp/modules.list"
  if [ "$k" != built ]; then
    abi=$(kernel_abi "$debarch" "$k")
    kdir="$cache/kernels/$debarch-$abi"
    ver="$abi-$debarch"
    local mods="vfio_pci vfio_iommu_type1 e1000e nvme virtio_net virtio_pci"
    [ "$arch" = x86_64 ] && mods="$mods ehci_pci uhci_hcd virtio_iommu"
    local m line ko
    for m in $mods; do
      # A module the kernel lacks (virtio_iommu on 6.1) or has built in is skipped.
      { modprobe -d "$kdir" -S "$ver" --show-depends "$m" 2>/dev/null || true; } | while read -r line; do
        case "$line" in
          insmod*) ko=$(awk '{print $2}' <<<"$line")
                   # Debian's modules are compressed (xz, zstd); busybox insmod wants them plain.
                   b=$(basename "$ko"); b=${b%.xz}; b=${b%.zst}
                   if ! grep -qxF "$b" "$tmp/modules.list"; then
                     case "$ko" in
                       *.xz) xz -dc "$ko" > "$tmp/lib/modules/$b" ;;
                       *.zst) zstd -q -dc "$ko" > "$tmp/lib/modules/$b" ;;
                       *) cp "$ko" "$tmp/lib/modules/$b" ;;
                     esac
                     echo "$b" >> "$tmp/modules.list"
                   fi ;;
        esac
      done
    done
  fi
  (cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initramfs-$arch-$k.cpio.gz"
  echo "$key" > "$out/initramfs-$arch-$k.key"
  rm -rf "$tmp"
}

declare -A need_initrd=()
for c in "${configs[@]}"; do read -r n a k <<<"$c"; need_initrd["$a-$k"]=1; done
for ak in "${!need_initrd[@]}"; do make_initramfs "${ak%%-*}" "${ak#*-}" & done
wait
for ak in "${!need_initrd[@]}"; do
  [ -s "$out/initramfs-$ak.cpio.gz" ] || die "building the initramfs for $ak failed"
done
[ -f "$cache/nvme.img" ] || truncate -s 1M "$cache/nvme.img"
t_prep=$(date +%s)

# Boot every configuration, IOVAMAP_LAB_JOBS at a time (boot.sh retries a guest that
# brought back nothing once: TCG under load can trip the guest's timer checks).
export IOVAMAP_LAB_OUT="$out" built_kernel
printf '%s\n' "${configs[@]}" | xargs -P "$jobs" -L 1 "$lab_dir/boot.sh"
t_boot=$(date +%s)

# Checks on the host: the guest's own verdicts, then the fixtures.
fail=0
for c in "${configs[@]}"; do
  read -r n a k <<<"$c"
  "$lab_dir/check.sh" "$out/$n" "$n" "$(known_limitation "$n")" || fail=1
  # A configuration with a guest_extra (intel39e2e) is another one's guest plus a comparison
  # check.sh makes on the spot: its fixture would repeat that one's, so none is kept.
  if [ "$update" = 1 ] && [ ! -f "$out/$n/FAILED" ] && [ ! -f "$out/$n/KNOWN" ] &&
     [ -z "$(guest_extra "$n")" ]; then
    "$lab_dir/keep-fixture.sh" "$out/$n" "$repo_dir/tests/data/lab-$n"
  fi
done
# The model against the kernels just booted: the fixture tests, run on the fresh results.
if [ -n "${IOVAMAP_LAB_TESTS:-}" ]; then
  rm -rf "$out/selected"; mkdir -p "$out/selected"
  for c in "${configs[@]}"; do
    read -r n a k <<<"$c"
    [ -f "$out/$n/KNOWN" ] || ln -s "../$n" "$out/selected/$n"
  done
  IOVAMAP_LAB_RESULTS="$out/selected" "$IOVAMAP_LAB_TESTS" --gtest_filter='Lab*:-LabFixtures.Present' \
    --gtest_brief=1 || fail=1
fi
log "times: fetch+build $((t_fetch - t0)) s, initramfs $((t_prep - t_fetch)) s, boots $((t_boot - t_prep)) s, total $((t_boot - t0)) s"
for c in "${configs[@]}"; do read -r n a k <<<"$c"; printf '  %-18s %s s\n' "$n" "$(cat "$out/$n/boot.seconds")" >&2; done
exit $fail
