// The regions firmware tables assign to each device, derived as the kernel derives them: the
// Intel driver's RMRR device-scope matching (ACPI DMAR) and the AMD driver's IVMD device-id
// ranges (ACPI IVRS), each region naming its table and entry ("DMAR RMRR 2, scope 00:14.0").
//
// The host loader calls `match_firmware_regions` on every host read from a kernel (live or
// snapshot) before it explains observed regions, so that only what the tables do not explain
// is kept as "observed, not derived".
//
// Example:
//   Host host = ...;                         // discovery, with host.firmware read
//   for (FirmwareMatchNote& n : match_firmware_regions(host)) note(n.group_id, n.message);
//   host.groups[0].devices[0].firmware_regions;  // the RMRRs / IVMDs that cover it
//
// Sharp edges:
//   - Only devices behind a unit of the table's driver get its regions (DMAR: "intel", IVRS:
//     "amd"); the driver model then types them (Intel: direct or direct-relaxable by device
//     class; AMD: direct).
//   - Intel scope paths are matched against the chain of PCI functions in Device::sysfs_path
//     (the kernel matches the same chain, from the root bus down); a device without a sysfs
//     path is taken as sitting on its root bus.
//   - Not modelled, each said in a note where it meets a host: ACPI namespace scopes (non-PCI
//     devices), an RMRR or IVMD whose range wraps past 2^64 or is empty.
//   - IORT RMR nodes (ARM) are not matched yet.
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

// Appends to every device's `firmware_regions` the DMAR RMRRs and IVRS IVMDs the kernel gives
// it, in the order the driver's get_resv_regions returns them, with Origin::kFirmware
// provenance naming the entry. Never fails: what cannot be modelled is a note.
std::vector<FirmwareMatchNote> match_firmware_regions(Host& host);

}  // namespace iovamap
