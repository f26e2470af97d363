#!/usr/bin/env zsh
# The zsh completion (completion/_iovamap) offers every command of `iovamap --help` and no
# other, the options of a command, and the groups and devices of a --root snapshot: the same
# checks as tests/completion_test.sh for bash. It runs outside the line editor, autoloaded from
# completion/ as compinit would, with compadd, _files and _directories replaced by functions
# that print what they would offer.
# Usage: zsh tests/zsh_completion_test.zsh IOVAMAP_BINARY SOURCE_DIR
emulate -R zsh
setopt err_exit no_unset pipe_fail
bin=$1
src=$2
root=$src/tests/data/snapshots/6.12-intel39/root
fpath=($src/completion $fpath)
autoload -Uz _iovamap

# What compadd would offer: the words that start with the current word, with their suffix.
compadd() {
  local suffix= w
  while [[ $# -gt 0 && $1 != -- ]]; do
    case $1 in
      (-S) suffix=$2; shift 2 ;;
      (*) shift ;;
    esac
  done
  [[ $# -gt 0 ]] && shift
  for w; do [[ $w == ${PREFIX}* ]] && print -r -- $w$suffix; done
  return 0
}
_files() { print -r -- '<files>'; }
_directories() { print -r -- '<directories>'; }

complete_words() {
  local -a words
  words=("$@")
  local CURRENT=$#words PREFIX=$words[-1]
  _iovamap | sort
}
fail() { print -r -- "zsh_completion_test: $*"; exit 1; }

# The commands CLI11 lists under SUBCOMMANDS in --help.
want=$($bin --help | sed -n '/^[Ss][Uu][Bb][Cc][Oo][Mm][Mm][Aa][Nn][Dd][Ss]:/,/^$/p' |
  awk 'NR > 1 && NF {print $1}' | sort)
[[ -n $want ]] || fail "no commands found in iovamap --help"
got=$(complete_words $bin "")
[[ $got == $want ]] || fail "commands: completion offers [$got], iovamap --help lists [$want]"

got=$(complete_words $bin ranges --i)
[[ $got == --iommufd ]] || fail "ranges --i: [$got]"
got=$(complete_words $bin --format "")
[[ $got == $'json\nsysfs\ntext' ]] || fail "--format: [$got]"
got=$(complete_words $bin --root "")
[[ $got == '<directories>' ]] || fail "--root: [$got]"

# Groups and devices of the snapshot, from the program itself.
got=$(complete_words $bin --root $root ranges "")
for w in 0 7 8 0000:01:00.0 01:00.0 03:01.0; do
  print -r -- $got | grep -qx -- $w || fail "ranges on $root does not offer $w: [$got]"
done
got=$(complete_words $bin --root $root --dma-limit 0000:01)
[[ $got == '0000:01:00.0=' ]] || fail "--dma-limit 0000:01: [$got]"
print "zsh_completion_test: commands, options and the snapshot's groups and devices are offered"
