# Shared settings for the iovamap QEMU lab. Sourced by the scripts in tests/lab/.
#
# Everything downloaded or built lives in a cache directory outside the repo, keyed by
# version, so that a repeat run only boots:
#   $IOVAMAP_LAB_CACHE (default /var/cache/iovamap-lab)
#     apt/<arch>/         private apt configuration (bookworm, bookworm-backports)
#     apt/<arch>-trixie/  the same for trixie and trixie-backports
#     debs/               downloaded .deb files (never installed)
#     kernels/<arch>-<v>/ extracted kernel image + decompressed modules
#     built/<key>/        the small iommufd kernel, keyed on fragment + source version
#     guest/<arch>-<key>/ the static guest programs (lab_probe, iovamap), keyed on their
#                         sources, compiler and flags (run.sh)
# Sharp edges: the apt state is private (-o Dir::...), the system's apt setup and dpkg
# architectures are never touched; the mirror is read from the machine's own apt sources.

lab_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(cd "$lab_dir/../.." && pwd)"
cache="${IOVAMAP_LAB_CACHE:-/var/cache/iovamap-lab}"
mkdir -p "$cache"

# Kernel versions, pinned with a fallback: Debian drops superseded kernel packages, so when a
# pinned ABI is gone we take whatever the metapackage currently depends on.
kver_61_pin="${IOVAMAP_LAB_KVER_61:-6.1.0-50}"
kver_612_pin="${IOVAMAP_LAB_KVER_612:-6.12.95+deb12}"
# The newest kernels, from trixie (6.12) and trixie-backports (6.18 and the newest 7.x; from
# 6.19 on the image package is split into linux-binary-* and linux-modules-*).
kver_612t_pin="${IOVAMAP_LAB_KVER_612T:-6.12.117+deb13}"
kver_618_pin="${IOVAMAP_LAB_KVER_618:-6.18.15+deb13}"
kver_7x_pin="${IOVAMAP_LAB_KVER_7X:-7.3.4+deb13}"
# Every Debian kernel the lab boots, by its key in the configuration names (intel39-618):
# KEY DIST PIN SERIES_REGEX (the regex matches the ABIs of the series, for the fallback).
lab_kernels() {
  printf '%s\n' \
    "61 bookworm $kver_61_pin 6\\.1\\.0-[0-9]+" \
    "612 bookworm $kver_612_pin 6\\.12\\.[0-9]+\\+deb12(\\.[0-9]+)?" \
    "612t trixie $kver_612t_pin 6\\.12\\.[0-9]+\\+deb13" \
    "618 trixie $kver_618_pin 6\\.18\\.[0-9]+\\+deb13" \
    "7x trixie $kver_7x_pin 7\\.[0-9]+\\.[0-9]+\\+deb13"
}

# debarch ARCH: Debian's name for a QEMU architecture (x86_64 -> amd64, arm64 stays).
debarch() { if [ "$1" = x86_64 ]; then echo amd64; else echo "$1"; fi; }

# kernel_abi DEBARCH K: the ABI fetch.sh resolved for kernel key K (61, 612, 612t, 618, 7x).
kernel_abi() {
  awk -v k="$2" '$1 == k {print $2}' "$cache/kernels/$1.abis" 2>/dev/null
}

log() { printf '[lab %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Prints the Debian mirror URI named in the machine's own apt sources (deb822 or one-line).
debian_mirror() {
  local uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i !~ /security/) {print $i; exit}}' \
      /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; exit}}' \
      /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d/debian.sources}"
  printf '%s\n' "$uri"
}

# apt_private ARCH TOOL ARGS...: runs TOOL (apt-get or apt-cache) with a private configuration for ARCH (amd64|arm64)
# holding bookworm and bookworm-backports from the machine's mirror. APT_DIST=trixie selects
# trixie and trixie-backports instead (a separate directory, apt/ARCH-trixie).
apt_private() {
  local arch="$1" tool="$2"; shift 2
  local dist="${APT_DIST:-bookworm}"
  local d="$cache/apt/$arch"
  [ "$dist" = bookworm ] || d="$cache/apt/$arch-$dist"
  if [ ! -f "$d/sources.list" ]; then
    mkdir -p "$d/lists/partial" "$d/archives/partial" "$d/etc/preferences.d" "$d/etc/trusted.gpg.d"
    : > "$d/status"
    local m; m=$(debian_mirror)
    printf 'deb [arch=%s signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$arch" "$m" "$dist" > "$d/sources.list.tmp"
    printf 'deb [arch=%s signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s-backports main\n' "$arch" "$m" "$dist" >> "$d/sources.list.tmp"
    mv "$d/sources.list.tmp" "$d/sources.list"
  fi
  mkdir -p "$d/cache"
  "$tool" -q -o Dir::Etc::SourceList="$d/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::Etc::Preferences="$d/etc/preferences" -o Dir::Etc::PreferencesParts="$d/etc/preferences.d" \
    -o Dir::State::Lists="$d/lists" -o Dir::State::Status="$d/status" \
    -o Dir::Cache="$d/cache" -o Dir::Cache::Archives="$d/archives" \
    -o APT::Architecture="$arch" -o APT::Architectures="$arch" \
    -o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}
