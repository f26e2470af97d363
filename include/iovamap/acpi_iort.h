// The ACPI IORT table (Arm): the nodes (ITS groups, named components, PCI root complexes,
// SMMUv1/v2, SMMUv3, PMCG, RMR) with their ID mappings, the memory address limits that become
// a device's bus DMA limit, and the RMR memory ranges that become `direct` regions.
//
// The kernel reads the IORT for every device it sets DMA up for (drivers/acpi/arm64/iort.c,
// iort_dma_get_ranges, whatever driver binds: vfio-pci too) and for an SMMU's reserved regions
// (iort_iommu_get_resv_regions: ITS doorbells, RMR ranges).
//
// Example:
//   Result<Iort> iort = parse_iort(bytes);
//   for (const IortNode& n : iort->nodes)
//     if (n.type == IortNodeType::kRootComplex) use(n.pci_segment, iort_dma_limit(n));
//
// Sharp edges:
//   - Every ID mapping's output reference must be the offset of a node of the table, and
//     following references must end: a reference elsewhere or a loop is an error here (the
//     kernel would read garbage or follow the loop, iort_node_map_id).
//   - RMR nodes the kernel ignores (table revision below 5, an ID mapping offset or count of 0,
//     no descriptors) are kept, with `rmr_ignored` saying why: a region derived from one would
//     be wrong. An RMR node whose ID mapping offset is 0 has no mappings here (the kernel reads
//     none: its mapping array would be the node's own header).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/acpi_table.h"
#include "iovamap/result.h"

namespace iovamap {

enum class IortNodeType : uint8_t {
  kItsGroup = 0,
  kNamedComponent = 1,
  kRootComplex = 2,
  kSmmuV1V2 = 3,
  kSmmuV3 = 4,
  kPmcg = 5,
  kRmr = 6,
};
// "ITS group", "named component", ... "type 0x9" for a type the kernel does not know.
std::string iort_node_type_name(uint8_t type);

struct IortIdMapping {
  size_t offset = 0;  // in the table
  uint32_t input_base = 0;
  uint32_t id_count = 0;  // the number of ids minus one
  uint32_t output_base = 0;
  uint32_t output_reference = 0;  // table offset of the node it maps to
  uint32_t flags = 0;             // bit 0: single mapping
  bool single() const { return (flags & 1) != 0; }
};

// One RMR memory range descriptor: [base, base + length - 1].
struct IortRmrRange {
  size_t offset = 0;
  uint64_t base = 0;
  uint64_t length = 0;
};

struct IortNode {
  size_t index = 0;   // in table order, from 0
  size_t offset = 0;  // in the table
  uint8_t type = 0;   // IortNodeType, or a value the kernel does not know
  uint16_t length = 0;
  uint8_t revision = 0;
  uint32_t identifier = 0;
  uint32_t mapping_offset = 0;  // of the ID mapping array, from the node's start
  std::vector<IortIdMapping> mappings;

  // ITS group
  std::vector<uint32_t> its_ids;
  // Named component
  uint32_t node_flags = 0;
  std::string name;  // the device's ACPI path, "\_SB.DMA0"
  // Named component and root complex
  uint64_t memory_properties = 0;
  uint8_t memory_address_limit = 0;  // bits; 0 when absent (root complex revision 0)
  // Root complex
  uint32_t ats_attribute = 0;
  uint32_t pci_segment = 0;
  // SMMUv1/v2 and SMMUv3
  uint64_t base_address = 0;
  uint32_t smmu_model = 0;
  uint32_t smmu_flags = 0;
  // RMR
  uint32_t rmr_flags = 0;  // bit 0 remapping permitted, 1 privileged, 9:2 access attributes
  std::vector<IortRmrRange> rmr_ranges;
  std::string rmr_ignored;  // why the kernel ignores this RMR node; "" when it uses it
  bool rmr_remapping_permitted() const { return (rmr_flags & 1) != 0; }
};

struct Iort {
  AcpiHeader header;
  uint32_t node_count = 0;
  uint32_t node_offset = 0;
  std::vector<IortNode> nodes;

  // The node that starts at table offset `offset`, or nullptr.
  const IortNode* node_at(uint32_t offset) const;
  // The root complex node of PCI segment `segment` the kernel takes: the first in table order
  // (iort_scan_node with iort_match_node_callback); nullptr when there is none.
  const IortNode* root_complex(uint32_t segment) const;
};

// The IORT in `bytes`. EINVAL naming the node and offset ("IORT: node 2 at offset 0x48: length
// 0 ...") for a node or its mappings, ITS ids, name or RMR descriptors passing the table or the
// node (the kernel warns "IORT node pointer overflows" and stops, or reads past the node), a
// node of length 0 (the kernel would read the same node again), a fixed part cut short, an
// output reference that is not a node, a reference loop, and an RMR range passing 2^64.
Result<Iort> parse_iort(std::string_view bytes);

// Where `id` entering node `node` ends after following ID mappings (iort_node_map_id's walk):
// the node index and the output id. Stops at a node with no mappings or of a type in
// `stop_types` (bit n for type n). ENOENT when no mapping takes the id.
struct IortMapped {
  size_t node = 0;
  uint32_t id = 0;
};
Result<IortMapped> iort_map_id(const Iort& iort, size_t node, uint32_t id, uint32_t stop_types);

// The bus DMA limit a named component or root complex declares, as the kernel takes it
// (iort.c nc_dma_get_range, rc_dma_get_range): 2^bits - 1, all of 64 bits for 64 and more.
// Unset, with `why` saying so, when the kernel ignores it: a root complex node below revision
// 1 has no such field, and a limit of 0 is a firmware bug the kernel skips.
struct IortDmaLimit {
  std::optional<uint64_t> last;  // the highest bus address
  std::string why;               // "" when `last` is set
};
IortDmaLimit iort_dma_limit(const IortNode& node);

}  // namespace iovamap
