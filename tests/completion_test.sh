#!/usr/bin/env bash
# The bash completion (completion/iovamap) offers every command of `iovamap --help` and no
# other, the options of a command, and the groups and devices of a --root snapshot.
# Usage: tests/completion_test.sh IOVAMAP_BINARY SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
root=$src/tests/data/snapshots/6.12-intel39/root
# shellcheck source=/dev/null
source "$src/completion/iovamap"
complete_words() {
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE="$*"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _iovamap
  printf '%s\n' "${COMPREPLY[@]}" | sort
}
fail() { echo "completion_test: $*"; exit 1; }

# The commands CLI11 lists under SUBCOMMANDS in --help.
want=$("$bin" --help | sed -n '/^[Ss][Uu][Bb][Cc][Oo][Mm][Mm][Aa][Nn][Dd][Ss]:/,/^$/p' | awk 'NR > 1 && NF {print $1}' | sort)
[ -n "$want" ] || fail "no commands found in iovamap --help"
got=$(complete_words "$bin" "")
[ "$got" = "$want" ] || fail "commands: completion offers [$got], iovamap --help lists [$want]"

got=$(complete_words "$bin" ranges --i)
[ "$got" = "--iommufd" ] || fail "ranges --i: [$got]"
got=$(complete_words "$bin" --format "")
[ "$got" = "$(printf 'json\nsvg\nsysfs\ntext')" ] || fail "--format: [$got]"
got=$(complete_words "$bin" --pci-boot-config "")
[ "$got" = "$(printf 'not-preserved\npreserved')" ] || fail "--pci-boot-config: [$got]"

# Groups and devices of the snapshot, from the program itself.
got=$(complete_words "$bin" --root "$root" ranges "")
for w in 0 7 8 0000:01:00.0 01:00.0 03:01.0; do
  grep -qx -- "$w" <<<"$got" || fail "ranges on $root does not offer $w: [$got]"
done
got=$(complete_words "$bin" --root "$root" --dma-limit 0000:01)
[ "$got" = "0000:01:00.0=" ] || fail "--dma-limit 0000:01: [$got]"
echo "completion_test: commands, options and the snapshot's groups and devices are offered"
