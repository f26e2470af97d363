// The firmware tables a host's kernel read for its IOMMUs and DMA limits, parsed: the ACPI
// DMAR, IVRS, IORT and VIOT (/sys/firmware/acpi/tables) and the device tree's `dma-ranges`
// (/sys/firmware/devicetree/base), as `Host::firmware` carries them.
//
// Example:
//   Result<Firmware> fw = read_firmware(reader);    // live host or snapshot
//   if (!fw) return fw.error();  // "/sys/firmware/acpi/tables/IVRS: IVRS: IVMD 0 at offset 0x30:
//   ..." if (fw->dmar) for (const DmarRmrr& r : fw->dmar->rmrrs) ...
//
// Sharp edges:
//   - A table that is absent is unset; a table that is present but malformed is an error (the
//     answer would otherwise silently miss what the kernel took from it).
//   - The device-tree walk is bounded (kMaxDtDepth, kMaxDtNodes) and reads only bus nodes'
//     cell counts, `device_type` and `dma-ranges`.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/acpi_dmar.h"
#include "iovamap/acpi_iort.h"
#include "iovamap/acpi_ivrs.h"
#include "iovamap/acpi_viot.h"
#include "iovamap/dt_dma_ranges.h"
#include "iovamap/result.h"
#include "iovamap/sysfs_reader.h"

namespace iovamap {

inline constexpr const char* kAcpiTablesDir = "sys/firmware/acpi/tables";
inline constexpr const char* kDeviceTreeDir = "sys/firmware/devicetree/base";
inline constexpr int kMaxDtDepth = 32;
inline constexpr size_t kMaxDtNodes = 100000;

// A device-tree node with a `dma-ranges` property.
struct DtDmaRangesNode {
  std::string path;    // below the device-tree root: "soc/pcie@7d500000"
  DtCells cells;       // as the kernel finds them (inherited from parents when absent)
  bool empty = false;  // an empty property: no translation, the kernel looks further up
  std::vector<DtDmaRange> ranges;
};

struct Firmware {
  std::optional<Dmar> dmar;
  std::optional<Ivrs> ivrs;
  std::optional<Iort> iort;
  std::optional<Viot> viot;
  std::vector<DtDmaRangesNode> dma_ranges;  // in depth-first, name order
  // Whether the PCI host bridges' boot configuration is preserved (the DSDT's _DSM function
  // 5, AML that iovamap does not run), as a topology declares it; unset: not declared.
  std::optional<bool> pci_boot_config_preserved;
};

// Parses `bytes` as the ACPI table `signature` ("DMAR", "IVRS", "IORT" or "VIOT") into its
// member of `fw` (a topology file's declared tables). EINVAL for another signature, or the
// parser's error for a malformed table ("IVRS: IVMD 0 at offset 0x30: ..."); `fw` is unchanged
// then.
Status set_firmware_table(Firmware& fw, std::string_view signature, std::string_view bytes);

// Reads and parses the four ACPI tables and the device tree's dma-ranges through `reader`.
// Errors name the file ("/sys/firmware/acpi/tables/IORT: IORT: node 3 at offset 0xdc: ...");
// a file that cannot be read for another reason than its absence is an error too.
Result<Firmware> read_firmware(SysfsReader& reader);

}  // namespace iovamap
