// Map files: the DMA mappings a VMM or a userspace driver plans to make, for `iovamap check`.
//
// One mapping per line, "IOVA SIZE": each a quantity (quantity.h: hex with 0x or decimal, with
// an optional binary unit, "16MiB" or "16 MiB"), separated by spaces or tabs. "#" starts a
// comment; blank lines are skipped; CRLF line ends are accepted.
//
// Example:
//   # guest RAM below the PCI hole, then above 4 GiB
//   0x0          0xc0000000
//   0x100000000  62GiB
//
//   Result<std::vector<PlannedMapping>> m = parse_map_file(text, "vm.map");
//
// Sharp edges: a size of 0 and a mapping that passes 2^64-1 parse fine: they are answers of
// `check` (the kernel refuses both with EINVAL), not syntax errors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/range.h"
#include "iovamap/result.h"

namespace iovamap {

struct PlannedMapping {
  uint64_t iova = 0;
  u128 size = 0;    // 0 to 2^64
  size_t line = 0;  // 1-based line in the file
};

// Parses a map file; errors are "FILE:LINE: ...".
Result<std::vector<PlannedMapping>> parse_map_file(std::string_view text,
                                                   const std::string& file_name);

}  // namespace iovamap
