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
#pragma once

#include <string>
#include <string_view>

#include "iovamap/host.h"
#include "iovamap/result.h"

namespace iovamap {

// Parses a topology; `file_name` names it in errors and in Host::source ("topology FILE").
Result<Host> parse_topology(std::string_view text, const std::string& file_name);

}  // namespace iovamap
