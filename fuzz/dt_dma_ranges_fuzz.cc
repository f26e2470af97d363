// libFuzzer target: parse_dt_dma_ranges on arbitrary bytes (a hostile device-tree property).
// The first byte chooses the cell counts (some of them ones the kernel refuses), the rest is
// the property. It must return entries or EINVAL, never crash; entries lie inside the bytes.
#include <cerrno>
#include <cstdlib>
#include <string_view>

#include "iovamap/dt_dma_ranges.h"

using namespace iovamap;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  DtCells cells{.child_address_cells = data[0] & 7u,
                .parent_address_cells = (data[0] >> 3) & 3u,
                .size_cells = ((data[0] >> 5) & 3u),
                .pci = (data[0] & 0x80) != 0};
  std::string_view prop(reinterpret_cast<const char*>(data + 1), size - 1);
  Result<std::vector<DtDmaRange>> r = parse_dt_dma_ranges(prop, cells, "fuzz");
  if (!r) {
    if (r.error().code != EINVAL) std::abort();
    return 0;
  }
  for (const DtDmaRange& range : *r)
    if (range.offset >= prop.size()) std::abort();
  DtDmaLimit limit = dt_bus_dma_limit(*r);
  if (limit.last.has_value() == !limit.why.empty()) std::abort();
  (void)parse_dt_cells(prop, "fuzz");
  return 0;
}
