// Device-tree `dma-ranges`: the bus-to-CPU address windows a bus node gives the devices below
// it, and the bus DMA limit the kernel derives from them for every device it sets up (vfio-pci
// included): drivers/of/device.c of_dma_configure_id, drivers/of/address.c of_dma_get_range.
//
// A property is big-endian 32-bit cells, one entry after another: the child bus address
// (#address-cells of the node holding the property), the parent address (#address-cells of
// its parent), the size (#size-cells of the node). PCI host bridges use 3-cell child
// addresses whose first cell is flags.
//
// Example:
//   Result<std::vector<DtDmaRange>> r = parse_dt_dma_ranges(prop, {.child_address_cells = 2,
//       .parent_address_cells = 2, .size_cells = 2}, "pcie@10000000/dma-ranges");
//   DtDmaLimit limit = dt_bus_dma_limit(*r);   // limit.last: the highest bus address
//
// Sharp edges:
//   - The parent address is taken as it is written; the kernel also translates it through the
//     parents' `ranges` and skips an entry that does not translate, which needs the whole tree.
//   - An empty `dma-ranges` means "no translation, look further up" and an absent one "no
//     limit from the tree": both are the caller's walk, not this parser's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/result.h"

namespace iovamap {

struct DtCells {
  unsigned child_address_cells = 2;   // #address-cells of the node with dma-ranges
  unsigned parent_address_cells = 2;  // #address-cells of its parent
  unsigned size_cells = 1;            // #size-cells of the node
  bool pci = false;                   // a PCI bus: the first child address cell is flags
};

struct DtDmaRange {
  size_t offset = 0;  // byte offset of the entry in the property
  uint64_t bus_address = 0;
  uint64_t cpu_address = 0;
  uint64_t size = 0;
};

// The value of a cell-count property (#address-cells, #size-cells): one big-endian u32.
// EINVAL naming `name` for any other length.
Result<unsigned> parse_dt_cells(std::string_view property, std::string_view name);

// The entries of a `dma-ranges` property, read as the kernel's range parser does
// (of_range_parser_one): cells wider than 64 bits keep their low 64 bits (of_read_number), and
// trailing bytes too few for a whole entry are not read. EINVAL naming `name` for cell counts
// the kernel refuses (address cells 0 or above 4, size cells 0: OF_CHECK_COUNTS) and for a PCI
// bus whose child addresses are not 3 cells.
Result<std::vector<DtDmaRange>> parse_dt_dma_ranges(std::string_view property, const DtCells& cells,
                                                    std::string_view name);

// The bus DMA limit the kernel sets from the entries (of_dma_configure_id: the highest
// bus_address + size - 1 over the range map, dma_range_map_max). The map ends at the first
// entry of size 0 (its terminator), so later entries count for nothing. Unset, with `why`,
// when no entry counts.
struct DtDmaLimit {
  std::optional<uint64_t> last;
  std::string why;  // "" when `last` is set
};
DtDmaLimit dt_bus_dma_limit(const std::vector<DtDmaRange>& ranges);

}  // namespace iovamap
