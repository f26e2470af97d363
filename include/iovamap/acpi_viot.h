// The ACPI VIOT table (virtual I/O translation): which PCI ranges and MMIO endpoints sit
// behind which virtio-iommu, the table QEMU builds for `-device virtio-iommu-pci`.
//
// The kernel reads it to find each endpoint's virtio-iommu (drivers/acpi/viot.c,
// acpi_viot_init); it holds topology only: no regions, no DMA limits (virtio-iommu reports
// those itself through PROBE).
//
// Example:
//   Result<Viot> viot = parse_viot(bytes);
//   for (const ViotNode& n : viot->nodes)
//     if (n.type == ViotNodeType::kPciRange) use(n.bdf_start, n.bdf_end, n.output_node);
//
// Sharp edges: `output_node` is a table offset; `Viot::node_at` finds the node there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "iovamap/acpi_table.h"
#include "iovamap/result.h"

namespace iovamap {

enum class ViotNodeType : uint8_t {
  kPciRange = 1,
  kMmio = 2,
  kVirtioIommuPci = 3,
  kVirtioIommuMmio = 4,
};

struct ViotNode {
  size_t index = 0;   // in table order, from 0
  size_t offset = 0;  // in the table
  uint8_t type = 0;   // ViotNodeType, or a type the kernel warns about and skips
  uint16_t length = 0;
  // PCI range: endpoints [endpoint_start, ...] for segments [segment_start, segment_end] and
  // BDFs [bdf_start, bdf_end].
  uint32_t endpoint_start = 0;
  uint16_t segment_start = 0;
  uint16_t segment_end = 0;
  uint16_t bdf_start = 0;
  uint16_t bdf_end = 0;
  // MMIO endpoint: `endpoint_start` is its id; virtio-iommu MMIO: its base too.
  uint64_t base_address = 0;
  // PCI range and MMIO endpoint: the table offset of their virtio-iommu node.
  uint16_t output_node = 0;
  // virtio-iommu PCI: where the IOMMU itself is.
  uint16_t segment = 0;
  uint16_t bdf = 0;
};

struct Viot {
  AcpiHeader header;
  uint16_t node_count = 0;
  uint16_t node_offset = 0;
  std::vector<ViotNode> nodes;
  // The node that starts at table offset `offset`, or nullptr.
  const ViotNode* node_at(uint16_t offset) const;
};

// The VIOT in `bytes`. EINVAL naming the node and offset for what makes the kernel stop
// reading the table (viot_check_bounds: a node whose header passes the table end, or shorter
// than its 4-byte header; viot_parse_node: a known node shorter than its type's size), and for
// an endpoint whose output node is not a virtio-iommu node (the kernel's lookup fails,
// "Invalid IOMMU node").
Result<Viot> parse_viot(std::string_view bytes);

}  // namespace iovamap
