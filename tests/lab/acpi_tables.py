#!/usr/bin/env python3
"""Firmware tables for the lab: QEMU's own ACPI table with entries appended, in a cpio the
kernel reads before the initramfs.

Usage:
  acpi_tables.py build KIND BASE OUTDIR
      KIND is dmar-rmrr, ivrs-ivmd or iort-rmr; BASE is the table QEMU 7.2 gave (a lab fixture keeps it
      under tests/data/lab-<config>/root/sys/firmware/acpi/tables/). Writes OUTDIR/<SIG>.aml
      (BASE, the entries appended, OEM revision + 1, length and checksum fixed) and
      OUTDIR/acpi.cpio (an uncompressed newc cpio holding kernel/firmware/acpi/<SIG>.aml); for
      iort-rmr also OUTDIR/DSDT.aml, QEMU 7.2's arm64 virt DSDT with the PCI host bridge's
      _DSM function 5 saying "preserve the boot configuration" (qemu-7.2-virt-DSDT.aml beside
      this script, when it is there), in the same cpio.
  acpi_tables.py show KIND
      Prints the entries KIND appends, one a line.

Deterministic: the same BASE gives the same bytes (cpio mtimes and inode numbers are fixed).

How the kernel takes the table (drivers/acpi/tables.c, CONFIG_ACPI_TABLE_UPGRADE, set in
every Debian amd64 and arm64 kernel the lab boots up to 6.18): acpi_table_upgrade finds
kernel/firmware/acpi/* in an uncompressed cpio at the start of the initrd, keeps a file whose
signature is known, whose length equals the table's length and whose checksum is right;
acpi_table_initrd_override then replaces the firmware's table when signature, OEM ID and OEM
table ID match and the OEM revision is strictly higher ("Table Upgrade: override [...]"), and
/sys/firmware/acpi/tables/<SIG> shows the new bytes.

The entries (the devices are the lab's x86 machine, tests/lab/configs.sh x86_devices):
- DMAR (Intel; the devices as the intel-* configurations number them): three RMRRs, each in
  the e820 range SeaBIOS reserves for MMCONFIG ([0xb0000000, 0xbfffffff]), so that
  arch_rmrr_sanity_check (arch/x86/include/asm/iommu.h) finds a reserved e820 entry covering
  it and rmrr_sanity_check (drivers/iommu/intel/iommu.c) finds it page aligned; an RMRR that
  fails either check is only warned about ("Your BIOS is broken; bad RMRR", taint) and still
  used. Types come from intel_iommu_get_resv_regions: direct-relaxable for a USB or display
  device (device_rmrr_is_relaxable), direct otherwise; a bridge scope covers every device
  below the bridge (is_downstream_to_pci_bridge).
- IVRS (AMD; the amd-iommu takes 00:01.0 and shifts the other slots by one): three IVMDs.
  init_unity_map_range (drivers/iommu/amd/init.c) takes every IVMD with the unity or the
  exclusion flag, a per-device exclusion range as a read/write unity range; the device ids
  are each device's own (get_device_sbdf_id), so a 22h range names the devices behind the
  PCIe-to-PCI bridge by their own ids.
- IORT (Arm; the devices of configs.sh arm_devices: requester id = stream id below 0x300, the
  root complex node's first mapping): the table revision raised from QEMU 7.2's 3 to 5 (E.d),
  the only one from which iort_find_rmrs (drivers/acpi/arm64/iort.c) reads RMR nodes (the
  other nodes' fields the kernel reads sit where they did in revision 3), the root complex's
  memory address size limit lowered from 64 to 31 bits (rc_dma_get_range: bus_dma_limit
  2^31 - 1 for every PCI device), and three RMR nodes appended (node revision 3), each with
  one ID mapping to the SMMUv3 node: remapping permitted (direct-relaxable) for the e1000
  00:04.0, with a second range not 64 KiB aligned (iort_rmr_alloc widens it to pages); not
  permitted (direct) for the virtio-net 02:00.0; and one whose ID mapping offset is 0, which
  iort_node_get_rmr_info skips as a firmware bug although its mapping would cover the e1000.
  For PCI devices iort_rmr_has_dev wants the host bridge's preserve_config, which
  pci_acpi_preserve_config (drivers/pci/pci-acpi.c) sets when _DSM function 5 returns 0;
  QEMU 7.2's DSDT has no such function, hence the DSDT.
"""

import struct
import sys
from pathlib import Path

MIB = 1 << 20

# DMAR RMRRs: (base, end inclusive, scopes); a scope is (type, start bus, [(dev, fn), ...]),
# type 1 a PCI endpoint, 2 a PCI sub-hierarchy (a bridge and everything below it).
DMAR_RMRRS = [
    # UHCI 00:1d.0 (class 0x0c0300, USB): direct-relaxable; VFIO takes its group.
    (0xBF000000, 0xBF0FFFFF, [(1, 0, [(0x1D, 0)])]),
    # pci-testdev 00:05.0 (class 0x00ff00): direct; from 6.6 VFIO refuses its group (EINVAL),
    # before 6.6 Intel's driver refuses the attach (EPERM, device_is_rmrr_locked).
    (0xBF100000, 0xBF1FFFFF, [(1, 0, [(0x05, 0)])]),
    # The PCIe-to-PCI bridge 02:00.0 (below root port 00:02.0), as a sub-hierarchy scope: the
    # bridge and the virtio-net 03:01.0 behind it both get the region, direct.
    (0xBF200000, 0xBF2FFFFF, [(2, 0, [(0x02, 0), (0x00, 0)])]),
]

# IVRS IVMDs: (type, flags, device id, aux (last device id of a 22h), start, length).
# Flags: bit 0 unity, 1 IR, 2 IW, 3 exclusion.
IVRS_IVMDS = [
    # 21h, one device: pci-testdev 00:06.0 (id 0x0030), unity read/write.
    (0x21, 0x07, 0x0030, 0x0000, 0xBF100000, MIB),
    # 22h, a range of ids: bus 3 (0x0300-0x03ff), the virtio-net 03:01.0 behind the bridge.
    (0x22, 0x07, 0x0300, 0x03FF, 0xBF200000, MIB),
    # 21h exclusion range: e1000 00:05.0 (id 0x0028), taken as a read/write unity range.
    (0x21, 0x08, 0x0028, 0x0000, 0xBF300000, MIB),
]

# IORT RMR nodes: (flags, [(input base, id count, output base)], [(base, length)], mapping
# offset 0). Flags bit 0: remapping permitted. Every mapping names the SMMUv3 node.
IORT_RMRS = [
    # e1000 00:04.0 (stream 0x20): direct-relaxable; the second range is widened to pages.
    (0x1, [(0x20, 0, 0x20)], [(0xBF000000, 0x100000), (0xBF101000, 0x1800)], False),
    # virtio-net 02:00.0 (stream 0x200, bus 2): direct; from 6.6 VFIO refuses its group.
    (0x0, [(0x200, 0xFF, 0x200)], [(0xBF200000, 0x100000)], False),
    # Mapping offset 0: skipped by the kernel ("Invalid ID mapping"), though it covers 00:04.0.
    (0x0, [(0x20, 0, 0x20)], [(0xBF300000, 0x100000)], True),
]
IORT_RC_LIMIT_BITS = 31
IORT_SMMU_TYPE, IORT_RC_TYPE, IORT_RMR_TYPE = 4, 2, 6

HEADER = 36


def rmrr_entry(base, end, scopes):
    body = b""
    for kind, bus, path in scopes:
        s = struct.pack("<BBHBB", kind, 6 + 2 * len(path), 0, 0, bus)
        s += b"".join(struct.pack("<BB", d, f) for d, f in path)
        body += s
    # Type 1 (RMRR), length, reserved, segment 0, base, end (inclusive).
    return struct.pack("<HHHHQQ", 1, 24 + len(body), 0, 0, base, end) + body


def ivmd_entry(kind, flags, devid, aux, start, length):
    # Type, flags, length 32, device id, aux data, PCI segment 0, 6 reserved bytes, start, length.
    return struct.pack("<BBHHHH6xQQ", kind, flags, 32, devid, aux, 0, start, length)


def iort_nodes(table):
    """(offset, type, length, revision, mapping count, mapping offset) of each node."""
    count, at = struct.unpack_from("<II", table, HEADER)
    nodes = []
    for _ in range(count):
        kind, length, rev, _ident, maps, map_at = struct.unpack_from("<BHBIII", table, at)
        nodes.append((at, kind, length, rev, maps, map_at))
        at += length
    return nodes


def rmr_node(flags, mappings, ranges, zero_offset, smmu, ident):
    maps = len(mappings)
    length = 28 + 20 * maps + 20 * len(ranges)
    out = struct.pack("<BHBIII", IORT_RMR_TYPE, length, 3, ident, maps, 0 if zero_offset else 28)
    out += struct.pack("<III", flags, len(ranges), 28 + 20 * maps)
    out += b"".join(struct.pack("<IIIII", i, n, o, smmu, 0) for i, n, o in mappings)
    out += b"".join(struct.pack("<QQI", b, n, 0) for b, n in ranges)
    return out


def iort_rmr(base):
    """QEMU's IORT, revision 5, the root complex limited to 31 bits, the RMR nodes appended."""
    t = bytearray(base)
    nodes = iort_nodes(t)
    smmu = [n for n in nodes if n[1] == IORT_SMMU_TYPE]
    rc = [n for n in nodes if n[1] == IORT_RC_TYPE]
    if len(smmu) != 1 or len(rc) != 1 or rc[0][3] < 1:
        sys.exit("acpi_tables.py: the base IORT has not one SMMUv3 and one root complex (rev 1+)")
    t[8] = 5
    t[rc[0][0] + 32] = IORT_RC_LIMIT_BITS
    ident = max(struct.unpack_from("<I", t, n[0] + 4)[0] for n in nodes) + 1
    for i, r in enumerate(IORT_RMRS):
        t += rmr_node(*r, smmu[0][0], ident + i)
    struct.pack_into("<I", t, HEADER, len(nodes) + len(IORT_RMRS))
    return bytes(t)


def checksum_fixed(table):
    t = bytearray(table)
    struct.pack_into("<I", t, 4, len(t))
    t[9] = 0
    t[9] = (-sum(t)) & 0xFF
    return bytes(t)


def extend(base, signature, entries, rewrite=None):
    if len(base) < HEADER or base[:4] != signature:
        sys.exit(f"acpi_tables.py: the base table is not a {signature.decode()} table")
    (length,) = struct.unpack_from("<I", base, 4)
    if length != len(base) or sum(base) & 0xFF:
        sys.exit("acpi_tables.py: the base table's length or checksum is wrong")
    t = bytearray(rewrite(base) if rewrite else base)
    (oem_revision,) = struct.unpack_from("<I", t, 24)
    struct.pack_into("<I", t, 24, oem_revision + 1)  # the override needs a higher revision
    t += b"".join(entries)
    return checksum_fixed(t)


def entries_of(kind):
    if kind == "dmar-rmrr":
        return b"DMAR", [rmrr_entry(*r) for r in DMAR_RMRRS]
    if kind == "ivrs-ivmd":
        return b"IVRS", [ivmd_entry(*m) for m in IVRS_IVMDS]
    if kind == "iort-rmr":  # the nodes come from iort_rmr, which also rewrites the header
        return b"IORT", []
    sys.exit(f"acpi_tables.py: unknown kind {kind} (dmar-rmrr, ivrs-ivmd, iort-rmr)")


def cpio(files):
    """An uncompressed newc cpio of (name, data, mode), ending with the trailer."""
    out = bytearray()
    for ino, (name, data, mode) in enumerate(files + [("TRAILER!!!", b"", 0)], start=1):
        n = name.encode() + b"\0"
        fields = [ino if name != "TRAILER!!!" else 0, mode, 0, 0, 1 if mode else 0, 0,
                  len(data), 0, 0, 0, 0, len(n), 0]
        out += b"070701" + b"".join(b"%08X" % v for v in fields) + n
        out += b"\0" * (-len(out) % 4)
        out += data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def main(argv):
    if len(argv) == 3 and argv[1] == "show":
        sig, entries = entries_of(argv[2])
        if argv[2] == "iort-rmr":
            entries = [rmr_node(*r, 0, 0) for r in IORT_RMRS]
        for e in entries:
            print(sig.decode(), e.hex())
        return 0
    if len(argv) != 5 or argv[1] != "build":
        sys.exit(__doc__)
    sig, entries = entries_of(argv[2])
    table = extend(Path(argv[3]).read_bytes(), sig, entries,
                   iort_rmr if argv[2] == "iort-rmr" else None)
    out = Path(argv[4])
    out.mkdir(parents=True, exist_ok=True)
    tables = [(sig.decode() + ".aml", table)]
    dsdt = Path(__file__).with_name("qemu-7.2-virt-DSDT.aml")
    if argv[2] == "iort-rmr" and dsdt.exists():
        tables.append(("DSDT.aml", dsdt.read_bytes()))
    for name, data in tables:
        (out / name).write_bytes(data)
    d = 0o040755
    (out / "acpi.cpio").write_bytes(cpio(
        [("kernel", b"", d), ("kernel/firmware", b"", d), ("kernel/firmware/acpi", b"", d)] +
        [("kernel/firmware/acpi/" + name, data, 0o100644) for name, data in tables]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
