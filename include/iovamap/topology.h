// Topology files: a what-if host written by hand in TOML (format: docs/topology.md).
//
// A topology describes the IOMMU units, groups and devices of a host that may not exist, so a
// user can ask "what could a VM use on a 39-bit Intel client?" or "what if this NIC only drives
// 40 bits?". It fills the same `Host` that discovery fills; the driver model then adds the
// driver's own regions (MSI window, HyperTransport hole, SW_MSI), which the file never lists.
//
// Example:
//   kernel = "6.12"
//   [[iommu]]
//   name = "dmar0"
//   driver = "intel"
//   address-bits = 39
//   [[group]]
//   id = 6
//   iommu = "dmar0"
//   [[group.device]]
//   bdf = "0000:01:00.0"
//   dma-bits = 40
//
//   Result<Host> host = parse_topology(text, "client.toml");
//
// Sharp edges:
//   - Unknown keys are errors (a typo must not silently change the answer).
//   - Devices keep the file's order: it is the group order, which decides region merging.
//   - Errors are "FILE:LINE: ..." (and ":COLUMN" for TOML syntax errors).
//   - parse_topology opens no file: the ACPI tables a `[firmware]` table names are returned as
//     TopologyTableRef for the host loader (host_loader.h) to read and parse.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "iovamap/host.h"
#include "iovamap/result.h"

namespace iovamap {

// An ACPI table file a topology's `[firmware]` table names (`dmar = "DMAR.bin"`).
struct TopologyTableRef {
  std::string signature;  // "DMAR", "IVRS", "IORT" or "VIOT"
  std::string path;       // as written: relative paths are relative to the topology file
  std::string where;      // "FILE:LINE", for errors
};

// Parses a topology; `file_name` names it in errors and in Host::source ("topology FILE").
// The table files of its `[firmware]` table go to `*tables` when `tables` is not null (and
// are ignored otherwise).
Result<Host> parse_topology(std::string_view text, const std::string& file_name,
                            std::vector<TopologyTableRef>* tables = nullptr);

}  // namespace iovamap
