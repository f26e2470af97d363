# Shared settings for the iovamap QEMU lab. Sourced by the scripts in tests/lab/.
#
# Everything downloaded or built lives in a cache directory outside the repo, keyed by
# version, so that a repeat run only boots:
#   $IOVAMAP_LAB_CACHE (default /var/cache/iovamap-lab)
#     apt/<arch>/         private apt configuration, lists and package cache
#     debs/               downloaded .deb files (never installed)
#     kernels/<arch>-<v>/ extracted kernel image + decompressed modules
#     built/<key>/        the small iommufd kernel, keyed on fragment + source version
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
# holding bookworm and bookworm-backports from the machine's mirror.
apt_private() {
  local arch="$1" tool="$2"; shift 2
  local d="$cache/apt/$arch"
  if [ ! -f "$d/sources.list" ]; then
    mkdir -p "$d/lists/partial" "$d/archives/partial" "$d/etc/preferences.d" "$d/etc/trusted.gpg.d"
    : > "$d/status"
    local m; m=$(debian_mirror)
    printf 'deb [arch=%s signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s bookworm main\n' "$arch" "$m" > "$d/sources.list.tmp"
    printf 'deb [arch=%s signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s bookworm-backports main\n' "$arch" "$m" >> "$d/sources.list.tmp"
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
