// The ACPI VIOT parser (acpi_viot.h). Kernel rules cited are from drivers/acpi/viot.c
// (acpi_viot_init, viot_check_bounds, viot_parse_node, viot_get_iommu_node), Linux 6.12.
#include "iovamap/acpi_viot.h"

#include <algorithm>

namespace iovamap {
namespace {

constexpr size_t kViotHeaderBytes = 48;
constexpr size_t kNodeHeaderBytes = 4;

// The size of each known node type (ACPI 6.4, 5.2.31).
size_t node_bytes(uint8_t type) {
  switch (static_cast<ViotNodeType>(type)) {
    case ViotNodeType::kPciRange:
      return 24;
    case ViotNodeType::kMmio:
      return 24;
    case ViotNodeType::kVirtioIommuPci:
      return 16;
    case ViotNodeType::kVirtioIommuMmio:
      return 16;
  }
  return kNodeHeaderBytes;
}

bool is_iommu(const ViotNode& n) {
  return n.type == static_cast<uint8_t>(ViotNodeType::kVirtioIommuPci) ||
         n.type == static_cast<uint8_t>(ViotNodeType::kVirtioIommuMmio);
}

}  // namespace

const ViotNode* Viot::node_at(uint16_t offset) const {
  auto it = std::find_if(nodes.begin(), nodes.end(),
                         [&](const ViotNode& n) { return n.offset == offset; });
  return it == nodes.end() ? nullptr : &*it;
}

Result<Viot> parse_viot(std::string_view bytes) {
  IOVAMAP_ASSIGN_OR_RETURN(AcpiHeader header, parse_acpi_header(bytes, "VIOT"));
  TableBytes t(bytes.substr(0, header.length), "VIOT");
  Viot viot;
  viot.header = std::move(header);
  IOVAMAP_ASSIGN_OR_RETURN(viot.node_count, t.u16(36, "header"));
  IOVAMAP_ASSIGN_OR_RETURN(viot.node_offset, t.u16(38, "header"));
  // viot_check_bounds: nodes start no earlier than the end of the VIOT header.
  size_t at = std::max<size_t>(viot.node_offset, kViotHeaderBytes);
  if (viot.node_count != 0 && viot.node_offset < kViotHeaderBytes)
    return t.error(38, "header",
                   "node offset " + hex(viot.node_offset) + " inside the 48-byte header");
  for (uint16_t i = 0; i < viot.node_count; ++i) {
    const std::string what = "node " + std::to_string(i);
    // The kernel stops at the first bad node ("Node pointer overflows", "Empty node",
    // "Invalid node size"); we refuse the table there.
    if (!t.has(at, kNodeHeaderBytes))
      return t.error(at, what, "the node header passes the table end (" + hex(t.size()) + ")");
    ViotNode n;
    n.index = i;
    n.offset = at;
    n.type = *t.u8(at, what);
    n.length = *t.u16(at + 2, what);
    if (n.length < kNodeHeaderBytes)
      return t.error(at, what, "length " + std::to_string(n.length) + " below the 4-byte header");
    if (!t.has(at, n.length)) return t.passes_end(at, what, n.length);
    if (n.length < node_bytes(n.type))
      return t.error(at, what,
                     "length " + std::to_string(n.length) + " below the " +
                         std::to_string(node_bytes(n.type)) + " bytes of type " + hex(n.type));
    switch (static_cast<ViotNodeType>(n.type)) {
      case ViotNodeType::kPciRange:
        n.endpoint_start = *t.u32(at + 4, what);
        n.segment_start = *t.u16(at + 8, what);
        n.segment_end = *t.u16(at + 10, what);
        n.bdf_start = *t.u16(at + 12, what);
        n.bdf_end = *t.u16(at + 14, what);
        n.output_node = *t.u16(at + 16, what);
        break;
      case ViotNodeType::kMmio:
        n.endpoint_start = *t.u32(at + 4, what);
        n.base_address = *t.u64(at + 8, what);
        n.output_node = *t.u16(at + 16, what);
        break;
      case ViotNodeType::kVirtioIommuPci:
        n.segment = *t.u16(at + 4, what);
        n.bdf = *t.u16(at + 6, what);
        break;
      case ViotNodeType::kVirtioIommuMmio:
        n.base_address = *t.u64(at + 8, what);
        break;
      default:
        break;  // "Unsupported node": the kernel skips it
    }
    at += n.length;
    viot.nodes.push_back(n);
  }
  for (const ViotNode& n : viot.nodes) {
    if (n.type != static_cast<uint8_t>(ViotNodeType::kPciRange) &&
        n.type != static_cast<uint8_t>(ViotNodeType::kMmio))
      continue;
    const ViotNode* iommu = viot.node_at(n.output_node);
    if (!iommu || !is_iommu(*iommu))
      return t.error(n.offset, "node " + std::to_string(n.index),
                     "output node " + hex(n.output_node) + " is not a virtio-iommu node");
  }
  return viot;
}

}  // namespace iovamap
