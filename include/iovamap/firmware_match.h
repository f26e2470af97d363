// The regions firmware tables assign to each device, derived as the kernel derives them: the
// Intel driver's RMRR device-scope matching (ACPI DMAR), the AMD driver's IVMD device-id
// ranges (ACPI IVRS) and the Arm SMMU drivers' IORT RMR nodes matched by stream id, each region
// naming its table and entry ("DMAR RMRR 2, scope 00:14.0", "IORT RMR node 4 at 0x118, range
// 0, stream 0x10").
//
// The host loader calls `match_firmware_regions` on every host read from a kernel (live or
// snapshot) before it explains observed regions, so that only what the tables do not explain
// is kept as "observed, not derived".
//
// Example:
//   Host host = ...;                         // discovery, with host.firmware read
//   FirmwareMatchOptions options{.pci_boot_config_preserved = true};  // or unknown: {}
//   for (FirmwareMatchNote& n : match_firmware_regions(host, options)) note(n.group_id, n.message);
//   host.groups[0].devices[0].firmware_regions;  // the RMRRs / IVMDs / RMRs that cover it
//
// Sharp edges:
//   - Only devices behind a unit of the table's driver get its regions (DMAR: "intel", IVRS:
//     "amd", IORT: "arm-smmu-v3" or "arm-smmu"); the driver model then types them (Intel: direct
//     or direct-relaxable by device class; AMD: direct; IORT: direct-relaxable when the RMR
//     node's "remapping permitted" flag is set, else direct).
//   - IORT RMRs reach a PCI device only when its host bridge's ACPI _DSM function 5 says the
//     boot configuration is preserved, which iovamap cannot read (it does not run AML): the
//     caller says so in `FirmwareMatchOptions`; unknown turns each RMR a PCI device would get
//     into a note instead of a region. The device's stream id is its own requester id mapped
//     through its segment's root complex node (DMA aliases are not followed), with 4 KiB
//     pages for the kernel's alignment fix-up (Debian's arm64 kernels). Named components (non-PCI
//     devices) get no RMR region here.
//   - Intel scope paths are matched against the chain of PCI functions in Device::sysfs_path
//     (the kernel matches the same chain, from the root bus down); a device without a sysfs
//     path is taken as sitting on its root bus.
//   - Not modelled, each said in a note where it meets a host: ACPI namespace scopes (non-PCI
//     devices), an RMRR, IVMD or RMR range that wraps past 2^64 or is empty.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "iovamap/host.h"

namespace iovamap {

struct FirmwareMatchNote {
  std::optional<uint32_t> group_id;  // the group it concerns; none: the host
  std::string message;
};

// What the firmware decides that the tables do not hold.
struct FirmwareMatchOptions {
  // Whether the PCI host bridges' boot configuration is preserved (ACPI _DSM function 5, "PCI
  // boot configuration", returning 0: the kernel's pci_host_bridge preserve_config); unset:
  // unknown. Only IORT RMRs depend on it.
  std::optional<bool> pci_boot_config_preserved;
};

// Appends to every device's `firmware_regions` the DMAR RMRRs, IVRS IVMDs and IORT RMR ranges
// the kernel gives it, in the order the driver's get_resv_regions returns them, with
// Origin::kFirmware provenance naming the entry. Never fails: what cannot be modelled, or
// depends on what `options` leaves unknown, is a note.
std::vector<FirmwareMatchNote> match_firmware_regions(Host& host,
                                                      const FirmwareMatchOptions& options = {});

}  // namespace iovamap
