// Device-tree dma-ranges (dt_dma_ranges.h). Kernel rules cited are from drivers/of/address.c
// (of_dma_get_range, of_range_parser_one, OF_CHECK_COUNTS), include/linux/of.h
// (of_read_number), drivers/of/device.c (of_dma_configure_id) and include/linux/dma-direct.h
// (dma_range_map_max), Linux 6.12.
#include "iovamap/dt_dma_ranges.h"

#include <algorithm>

namespace iovamap {
namespace {

constexpr unsigned kMaxAddressCells = 4;  // OF_MAX_ADDR_CELLS

uint32_t be32(std::string_view bytes, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[at + i]);
  return v;
}

// `count` cells at `at` as one number, keeping the low 64 bits.
uint64_t read_number(std::string_view bytes, size_t at, unsigned count) {
  uint64_t v = 0;
  for (unsigned i = 0; i < count; ++i) v = (v << 32) | be32(bytes, at + 4 * i);
  return v;
}

}  // namespace

Result<unsigned> parse_dt_cells(std::string_view property, std::string_view name) {
  if (property.size() != 4)
    return make_error(EINVAL, std::string(name) + ": " + std::to_string(property.size()) +
                                  " bytes, expected one 4-byte cell");
  return be32(property, 0);
}

Result<std::vector<DtDmaRange>> parse_dt_dma_ranges(std::string_view property, const DtCells& cells,
                                                    std::string_view name) {
  const std::string where(name);
  auto bad_address = [](unsigned n) { return n == 0 || n > kMaxAddressCells; };
  if (bad_address(cells.child_address_cells) || bad_address(cells.parent_address_cells) ||
      cells.size_cells == 0)
    return make_error(EINVAL, where + ": cell counts " + std::to_string(cells.child_address_cells) +
                                  "/" + std::to_string(cells.parent_address_cells) + "/" +
                                  std::to_string(cells.size_cells) +
                                  " (address 1 to 4, size 1 or more: the kernel refuses others)");
  if (cells.pci && cells.child_address_cells != 3)
    return make_error(EINVAL, where + ": a PCI bus has 3 address cells, not " +
                                  std::to_string(cells.child_address_cells));
  if (cells.size_cells > 16)
    return make_error(EINVAL, where + ": " + std::to_string(cells.size_cells) + " size cells");
  const size_t entry =
      4 * size_t{cells.child_address_cells + cells.parent_address_cells + cells.size_cells};
  std::vector<DtDmaRange> ranges;
  for (size_t at = 0; entry <= property.size() - at; at += entry) {
    DtDmaRange r;
    r.offset = at;
    // A PCI child address is flags, then the 64-bit address (of_bus_pci_get_flags).
    const unsigned skip = cells.pci ? 1 : 0;
    r.bus_address = read_number(property, at + 4 * skip, cells.child_address_cells - skip);
    r.cpu_address = read_number(property, at + 4 * size_t{cells.child_address_cells},
                                cells.parent_address_cells);
    r.size = read_number(property,
                         at + 4 * size_t{cells.child_address_cells + cells.parent_address_cells},
                         cells.size_cells);
    ranges.push_back(r);
  }
  return ranges;
}

DtDmaLimit dt_bus_dma_limit(const std::vector<DtDmaRange>& ranges) {
  std::optional<uint64_t> last;
  for (const DtDmaRange& r : ranges) {
    if (r.size == 0) break;  // the range map's terminator
    // bus_address + size - 1 in 64 bits, as the kernel computes it (a wrap is the kernel's).
    const uint64_t end = r.bus_address + (r.size - 1);
    last = std::max(last.value_or(0), end);
  }
  if (!last) return {std::nullopt, "no dma-ranges entry of non-zero size"};
  return {last, ""};
}

}  // namespace iovamap
