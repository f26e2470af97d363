# The lab's QEMU configurations. Sourced by run.sh.
#
# lab_configs prints one line per configuration: NAME ARCH KERNEL where KERNEL is a Debian
# kernel's key (61, 612: bookworm; 612t, 618, 7x: trixie; common.sh lab_kernels) or built (the
# small iommufd kernel, x86_64 only). qemu_args NAME prints the machine and devices,
# kernel_args NAME the extra kernel command line, known_limitation NAME why a configuration is
# expected to come up without IOMMU groups. Facts these rest on: tests/lab/README.md.

lab_configs() {
  local k
  for k in 61 612 built 612t 618 7x; do
    echo "intel39-$k x86_64 $k"
    echo "intel48-$k x86_64 $k"
    echo "amd-$k x86_64 $k"
    [ "$k" = 61 ] || echo "virtio-$k x86_64 $k"  # 6.1 lacks CONFIG_VIRTIO_IOMMU
    # Without an IOMMU the kernel version changes nothing the lab checks: bookworm and built only.
    case "$k" in 61|612|built) echo "noiommu-$k x86_64 $k" ;; esac
  done
  # Firmware tables from the initrd (acpi_override): QEMU's DMAR with RMRRs, QEMU's IVRS with
  # IVMDs, on the kernels either side of the 6.6 firmware-direct rule.
  for k in 61 612 618; do echo "intel39rmrr-$k x86_64 $k"; done
  for k in 612 618; do echo "amdivmd-$k x86_64 $k"; done
  # QEMU's IORT with RMR nodes and a DSDT whose host bridge preserves the boot configuration.
  for k in 612 618; do echo "smmuv3acpirmr-$k arm64 $k"; done
  # The end-to-end vm-check: intel39's guest also runs QEMU with a vfio-pci device
  # (guest_extra; README.md, "vm-check end to end").
  echo "intel39e2e-612 x86_64 612"
  for k in 61 612 612t 618 7x; do
    echo "smmuv3dt-$k arm64 $k"
    echo "smmuv3acpi-$k arm64 $k"
  done
}

# known_limitation NAME: prints why configuration NAME comes up without IOMMU groups on this
# lab (README.md, "Known limitations"), or nothing. Such a configuration passes when it has
# no groups, and is judged like every other one as soon as it has some.
known_limitation() {
  case "$1" in
    virtio-618|virtio-7x)
      echo "QEMU 7.2's virtio-iommu-pci on Linux 6.16 and newer: devices bound before virtio_iommu loaded get no IOMMU group" ;;
  esac
}

# Devices shared by the x86 configurations: a PCIe NIC behind a root port, a virtio NIC behind
# a PCIe-to-PCI bridge (one group with the bridge), NVMe, a plain e1000 and a pci-testdev that
# no driver ever touches (no Debian module for e1000 is loaded; no Linux driver knows
# pci-testdev), and the ICH9 USB pair (one group).
x86_devices() {
  local img="$1"
  printf '%s ' \
    -device pcie-root-port,id=rp1,chassis=1,slot=1 -device e1000e,bus=rp1,romfile= \
    -device pcie-root-port,id=rp2,chassis=2,slot=2 -device pcie-pci-bridge,id=br1,bus=rp2 \
    -device virtio-net-pci,bus=br1,addr=1.0,romfile= \
    -drive if=none,id=nv0,file="$img",format=raw -device nvme,drive=nv0,serial=deadbeef \
    -device e1000,romfile= -device pci-testdev \
    -device ich9-usb-ehci1,id=ehci,addr=1d.7,multifunction=on \
    -device ich9-usb-uhci1,masterbus=ehci.0,firstport=0,addr=1d.0,multifunction=on
}

arm_devices() {
  local img="$1"
  printf '%s ' \
    -device pcie-root-port,id=rp1,chassis=1,slot=1 -device e1000e,bus=rp1,romfile= \
    -device pcie-root-port,id=rp2,chassis=2,slot=2 \
    -device virtio-net-pci,bus=rp2,disable-legacy=on,iommu_platform=on,romfile= \
    -drive if=none,id=nv0,file="$img",format=raw -device nvme,drive=nv0,serial=deadbeef \
    -device e1000,romfile=
}

qemu_args() {
  local name="$1" img="$2" efi="$3"
  local x86="-machine q35,kernel-irqchip=split -accel tcg -cpu max -smp 1 -m 1024 -vga none -net none"
  local arm="-machine virt,iommu=smmuv3,gic-version=3 -accel tcg -cpu max,pauth-impdef=on -smp 1 -m 1024 -net none"
  case "$name" in
    intel39-*|intel39rmrr-*|intel39e2e-*) echo "$x86 -device intel-iommu,intremap=on,aw-bits=39 $(x86_devices "$img")" ;;
    intel48-*) echo "$x86 -device intel-iommu,intremap=on,aw-bits=48 $(x86_devices "$img")" ;;
    amd-*|amdivmd-*) echo "$x86 -device amd-iommu,intremap=on $(x86_devices "$img")" ;;
    virtio-*) echo "$x86 -device virtio-iommu-pci $(x86_devices "$img")" ;;
    noiommu-*) echo "$x86 $(x86_devices "$img")" ;;
    smmuv3dt-*) echo "$arm $(arm_devices "$img")" ;;
    smmuv3acpi-*|smmuv3acpirmr-*) echo "$arm -bios $efi $(arm_devices "$img")" ;;
  esac
}

kernel_args() {
  local name="$1"
  local common="panic=-1 loglevel=4"
  # no_timer_check: under a loaded TCG host the x86 IO-APIC timer check can fail and panic.
  case "$name" in smmu*) ;; *) common="$common no_timer_check" ;; esac
  case "$name" in
    intel*) echo "console=ttyS0 $common intel_iommu=on iommu=nopt" ;;
    # Linux 7.3 turns interrupt remapping off under QEMU 7.2's IVRS (no southbridge IOAPIC,
    # README.md): VFIO then refuses every group unless unsafe interrupts are allowed, so amd-7x
    # allows them at boot to bring the ranges back; the strict attach probe switches them off
    # and records the refusal. (The kernel's ivrs_ioapic=0@0000:00:1f.0 keeps remapping on but
    # hangs the guest: QEMU's IO-APIC really sends as 00:14.0. README.md.)
    amd-7x) echo "console=ttyS0 $common iommu=nopt vfio_iommu_type1.allow_unsafe_interrupts=1" ;;
    amd-*|amdivmd-*) echo "console=ttyS0 $common iommu=nopt" ;;
    virtio-*) echo "console=ttyS0 $common iommu=nopt vfio_iommu_type1.allow_unsafe_interrupts=1 iommufd.allow_unsafe_interrupts=1" ;;
    noiommu-*) echo "console=ttyS0 $common intel_iommu=off" ;;
    smmuv3dt-*) echo "console=ttyAMA0 $common iommu.passthrough=0" ;;
    smmuv3acpi-*|smmuv3acpirmr-*) echo "console=ttyAMA0 $common iommu.passthrough=0 acpi=force" ;;
  esac
}

# guest_extra NAME: prints "nested-qemu" when configuration NAME's guest also runs Debian's QEMU
# with a vfio-pci device and `iovamap vm-check` on the same command lines (boot.sh appends
# nested_qemu.sh's cpio to the initrd; guest/vfio_e2e runs them; check.sh compares), or nothing.
guest_extra() {
  case "$1" in
    intel39e2e-*) echo nested-qemu ;;
  esac
}

# acpi_override NAME: prints "KIND BASE" when configuration NAME boots with a firmware table
# from the initrd (tests/lab/acpi_tables.py builds it from BASE, the table QEMU 7.2 gave, as a
# lab fixture kept it), or nothing. boot.sh puts the table's cpio before the initramfs and
# check.sh makes sure the kernel took it.
acpi_override() {
  local t="$repo_dir/tests/data"
  case "$1" in
    intel39rmrr-*) echo "dmar-rmrr $t/lab-intel39-612/root/sys/firmware/acpi/tables/DMAR" ;;
    amdivmd-*) echo "ivrs-ivmd $t/lab-amd-612/root/sys/firmware/acpi/tables/IVRS" ;;
    smmuv3acpirmr-*) echo "iort-rmr $t/lab-smmuv3acpi-612/root/sys/firmware/acpi/tables/IORT" ;;
  esac
}
