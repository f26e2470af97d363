// The bus DMA limit firmware gives each device's interconnect, found as the kernel finds it for
// every device it sets DMA up for, whatever driver binds (vfio-pci too): the IORT's named
// component or root complex "memory address size limit" (drivers/acpi/arm64/dma.c
// acpi_arch_dma_setup, drivers/acpi/arm64/iort.c iort_dma_get_ranges) and the device tree's
// dma-ranges (drivers/of/device.c of_dma_configure_id, drivers/of/address.c of_dma_get_range).
//
// The host loader calls `apply_firmware_dma_limits` on every host read from a kernel; dma_limit.h
// then ranks the result above kernel-driver masks (the lower of it and the device's own limit
// binds).
//
// Example:
//   apply_firmware_dma_limits(host, reader);
//   host.groups[0].devices[0].firmware_dma_limit->last;   // 0xffffffffff: a 40-bit interconnect
//
// Sharp edges:
//   - Limits the kernel ignores are kept with `last` unset and `detail` "declared, ignored by
//     the kernel (reason)": a root complex node below revision 1, a limit of 0 (firmware bug),
//     dma-ranges with no entry that counts.
//   - ACPI _DMA methods, which the kernel prefers to the IORT (drivers/acpi/scan.c
//     acpi_dma_get_range), are AML and not read; neither are device-tree `interconnects`
//     "dma-mem" parents, nor the translation of dma-ranges' CPU addresses through the parents'
//     `ranges` (an entry that does not translate is skipped by the kernel, counted here).
//   - Named components are matched by the ACPI path of the device's (or an ancestor's)
//     `firmware_node/path`; device-tree nodes by `of_node` links. Both are read through the
//     reader, so a snapshot records them.
#pragma once

#include <vector>

#include "iovamap/firmware_match.h"
#include "iovamap/host.h"
#include "iovamap/sysfs_reader.h"

namespace iovamap {

// Sets Device::firmware_dma_limit of every device the IORT (when the host has one) or else the
// device tree's dma-ranges give a bus DMA limit, declared or ignored; a device that already has
// one (a topology's firmware-dma-bits) keeps it. Never fails: a link or file that cannot be
// read means firmware says nothing about that device.
std::vector<FirmwareMatchNote> apply_firmware_dma_limits(Host& host, SysfsReader& reader);

}  // namespace iovamap
