#!/usr/bin/env bash
# check.sh DIR NAME [KNOWN]: judges one lab configuration's results (DIR holds expected/ and
# root/ as unpacked from the guest). KNOWN, when given, is a documented reason the configuration
# comes up without IOMMU groups (configs.sh, known_limitation): then no groups passes as
# "KNOWN NAME: reason" (and DIR/KNOWN is written); groups are judged as always. Prints "PASS NAME" or "FAIL NAME: why" with both sides; exit 1 on
# failure. The model-side comparisons live in the unit tests (tests/lab_fixtures_test.cc),
# which read the kept fixtures; here the kernel is checked against itself and the guest's
# verdicts are collected.
set -uo pipefail
dir="$1"; name="$2"; known="${3:-}"; E="$dir/expected"
fails=()
rm -f "$dir/KNOWN"
if [ -f "$dir/FAILED" ]; then
  echo "FAIL $name: $(cat "$dir/FAILED")"; tail -n 30 "$dir/console.log" | sed 's/^/    console| /'
  exit 1
fi
groups=$(ls "$E" | sed -n 's/^reserved_regions\.//p' | sort -n | tr '\n' ' ')
vfio=$(cat "$E/vfio_groups" 2>/dev/null | xargs)
refused=$(cat "$E/vfio_refused" 2>/dev/null | xargs)
if [ -n "$known" ] && [ -z "$groups" ]; then
  echo "$known" > "$dir/KNOWN"
  echo "KNOWN $name: no IOMMU groups: $known"
  exit 0
fi
case "$name" in
  noiommu-*)
    [ -z "$groups" ] || fails+=("groups exist without an IOMMU: $groups")
    grep -q '^rc=2$' "$E/noiommu.type1" 2>/dev/null || fails+=("lab_probe did not exit 2 without an IOMMU: $(cat "$E/noiommu.type1" 2>/dev/null)")
    # Every iovamap command ends cleanly (exit 0-2, never a signal) and says there is no IOMMU;
    # those that need a group fail with exit 2.
    c="$E/noiommu.commands"
    if [ ! -s "$c" ] || grep -qE '^exit ([3-9]|[1-9][0-9]+)$' "$c" ||
       [ "$(grep -c '^exit 2$' "$c")" -lt 4 ] || ! grep -qi 'no IOMMU' "$c"; then
      fails+=("iovamap commands without an IOMMU did not all end cleanly:
$(sed 's/^/      /' "$c" 2>/dev/null)")
    fi
    ;;
  *)
    [ -n "$groups" ] || fails+=("no IOMMU groups")
    [ -n "$vfio" ] || fails+=("no group could be opened through VFIO")
    ;;
esac
# MAP_DMA at every boundary: kernel verdict vs the type1 rule on the kernel's own ranges.
for f in "$E"/map_probe.*; do
  [ -f "$f" ] || continue
  if grep -q MISMATCH "$f"; then
    fails+=("MAP_DMA verdicts differ in ${f##*/}: $(grep MISMATCH "$f" | tr '\n' ';')")
  fi
done
# iovamap regions --policy kernel --format sysfs: byte for byte the kernel's file.
if [ -n "$groups" ]; then
  for g in $groups; do
    grep -qx "group $g same" "$E/iovamap_regions.result" 2>/dev/null ||
      fails+=("iovamap regions --format sysfs $g differs from the kernel's reserved_regions:
      iovamap: $(cat "$E/iovamap_regions.$g" 2>/dev/null | tr '\n' ';')
      kernel:  $(tr '\n' ';' < "$E/reserved_regions.$g")")
  done
fi
# iovamap verify --probe: the model against the kernel, every group and the all-groups
# container; a mismatch shows both sides (verify prints them).
for g in $vfio; do
  [ -f "$E/verify.$g" ] || fails+=("verify did not run for group $g")
done
for f in "$E"/verify.*; do
  [ -f "$f" ] || continue
  grep -q '^exit 0$' "$f" || fails+=("iovamap verify ${f##*.} failed:
$(sed 's/^/      /' "$f")")
done
# MSI isolation: with allow_unsafe_interrupts off the kernel answered for every group opened
# through VFIO, and `iovamap verify` agreed with it (the model-side check of each verdict is
# tests/lab_msi_test.cc, on the kept fixtures).
for g in $vfio; do
  grep -q '^type1 ' "$E/attach.$g" 2>/dev/null || fails+=("no strict attach verdict for group $g")
done
for g in $refused; do
  grep -q '^type1 ' "$E/attach.$g" 2>/dev/null || fails+=("no attach verdict for refused group $g")
done
# A firmware table from the initrd (configs.sh acpi_override; boot.sh leaves it as DIR/<SIG>.aml):
# the kernel took it, so /sys/firmware/acpi/tables/<SIG> shows exactly its bytes (a table the
# snapshot does not keep, the DSDT, the guest copies to expected/acpi_table.<SIG>).
for t in "$dir"/*.aml; do
  [ -f "$t" ] || continue
  sig=$(basename "$t" .aml)
  shown="$dir/root/sys/firmware/acpi/tables/$sig"
  [ -f "$shown" ] || shown="$E/acpi_table.$sig"
  cmp -s "$t" "$shown" ||
    fails+=("the kernel did not take the $sig from the initrd (sysfs shows other bytes; console: $(grep -a 'ACPI OVERRIDE\|Table Upgrade\|table found in initrd' "$dir/console.log" | tr -d '\r' | tr '\n' ';'))")
done
for f in "$E"/verify_strict.*; do
  [ -f "$f" ] || continue
  grep -q '^exit 0$' "$f" || fails+=("iovamap verify ${f##*.} with allow_unsafe_interrupts off failed:
$(sed 's/^/      /' "$f")")
done
# iommufd (built kernel): empty IOAS is everything with alignment 1; attached, it equals type1.
for f in "$E"/iommufd_ranges.*; do
  [ -f "$f" ] || continue
  tag=${f##*.}
  want_empty=$'0x0000000000000000 0xffffffffffffffff\nalignment 0x1'
  [ "$(cat "$E/iommufd_empty.$tag")" = "$want_empty" ] ||
    fails+=("empty IOAS $tag: kernel said '$(cat "$E/iommufd_empty.$tag" | tr '\n' ' ')', expected '$(tr '\n' ' ' <<<"$want_empty")'")
  if [ -f "$E/vfio_ranges.$tag" ]; then
    got=$(grep -v alignment "$f"); want=$(cat "$E/vfio_ranges.$tag")
    [ "$got" = "$want" ] || fails+=("iommufd vs type1 ranges for $tag: iommufd: $(tr '\n' ' ' <<<"$got") type1: $(tr '\n' ' ' <<<"$want")")
  fi
done
# The end-to-end vm-check (guest/vfio_e2e): QEMU with a vfio-pci device against `iovamap
# vm-check` on the same command line. The case "low" must start and "high" (a DIMM past the
# 39-bit aperture) must fail with QEMU's -22; vm-check's "starts" must say the same, and the
# region, IOVA and size of QEMU's refused mapping must be in vm-check's predicted message.
# e2e_dma_map FILE: "REGION IOVA SIZE" of each refused vfio_dma_map message in FILE (QEMU's
# stderr names the container and host address where vm-check writes "...").
e2e_dma_map() {
  grep -o 'Region [^:]*: vfio[a-z_]*dma_map([^,]*, 0x[0-9a-f]*, 0x[0-9a-f]*' "$1" 2>/dev/null |
    sed 's/^Region \([^:]*\): [a-z_]*(\([^,]*\), \(0x[0-9a-f]*\), \(0x[0-9a-f]*\)$/\1 \3 \4/' | sort -u
}
case "$name" in
  intel39e2e-*)
    if [ ! -f "$E/e2e.device" ]; then
      fails+=("end-to-end vm-check did not run: $(cat "$E/e2e.none" 2>/dev/null || echo 'no e2e.device')")
    fi
    for c in low high; do
      [ -f "$E/e2e.device" ] || break
      q="$E/e2e.$c.qemu"; v="$E/e2e.$c.vmcheck"
      qexit=$(sed -n 's/^exit //p' "$q" 2>/dev/null | tail -n1)
      starts=$(grep -o '"starts": *\(true\|false\)' "$v" 2>/dev/null | head -n1 | sed 's/.*: *//')
      want=$([ "$c" = low ] && echo 0 || echo refused)
      got=$([ "$qexit" = 0 ] && echo 0 || echo refused)
      [ "$got" = "$want" ] || fails+=("e2e $c: QEMU was expected to $([ "$want" = 0 ] && echo start || echo fail) (exit $qexit):
$(sed 's/^/      qemu| /' "$q")")
      if [ "$c" = high ] && ! grep -q '= -22 (Invalid argument)' "$q"; then
        fails+=("e2e high: QEMU's output has no -22 mapping refusal:
$(sed 's/^/      qemu| /' "$q")")
      fi
      if { [ "$got" = 0 ] && [ "$starts" != true ]; } || { [ "$got" != 0 ] && [ "$starts" != false ]; }; then
        fails+=("e2e $c: QEMU $([ "$got" = 0 ] && echo started || echo failed) but vm-check says starts=${starts:-?}:
$(sed 's/^/      qemu| /' "$q")
$(sed 's/^/      vm-check| /' "$v")")
      fi
      # Every mapping QEMU refused is one vm-check predicted, by region, IOVA and size.
      missing=$(comm -23 <(e2e_dma_map "$q") <(e2e_dma_map "$v"))
      [ -z "$missing" ] || fails+=("e2e $c: QEMU refused mappings vm-check did not predict: $(tr '\n' ';' <<<"$missing") (vm-check: $(e2e_dma_map "$v" | tr '\n' ';'))")
      echo "  e2e $name $c: QEMU exit $qexit$(e2e_dma_map "$q" | sed 's/^/, refused /' | tr '\n' ' '); vm-check starts=$starts$(e2e_dma_map "$v" | sed 's/^/, predicts /' | tr '\n' ' ') ($(cat "$E/e2e.$c.seconds" 2>/dev/null))"
    done
    ;;
esac
[ -s "$E/probe.log" ] && grep -q . "$E/probe.log" && echo "  note $name: $(tr '\n' ';' < "$E/probe.log")"
if [ ${#fails[@]} -gt 0 ]; then
  echo "FAIL $name:"; printf '    %s\n' "${fails[@]}"; exit 1
fi
echo "PASS $name (groups: $groups; vfio: $vfio${refused:+; refused: $refused})"
