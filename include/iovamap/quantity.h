// Addresses and sizes as people write them, in topology files, map files and on the command
// line: "0xfee00000", "4096", "16MiB", "4 KiB", "1G", "16EiB".
//
// A quantity is a hex (0x...) or decimal integer, optionally followed (with or without one
// space) by a binary unit: K/KiB, M/MiB, G/GiB, T/TiB, P/PiB, E/EiB (powers of 1024; "KB" and
// friends are refused as ambiguous). Sizes may reach 2^64 (a size of the whole space), so they
// are u128; addresses must fit in 64 bits.
//
// Example:
//   parse_size("16MiB");          // 0x1000000
//   parse_address("0xfee00000");  // 0xfee00000
//   parse_size("16EiB");          // 2^64
//   parse_address("16EiB");       // error: above 2^64-1
//
// Sharp edge: errors carry the bare reason ("'12Q': unknown unit 'Q'"); callers add the file
// and line.
#pragma once

#include <cstdint>
#include <string_view>

#include "iovamap/range.h"
#include "iovamap/result.h"

namespace iovamap {

// A size, 0 to 2^64. EINVAL on syntax, ERANGE above 2^64.
Result<u128> parse_size(std::string_view text);
// An address, 0 to 2^64-1. EINVAL on syntax, ERANGE above 2^64-1.
Result<uint64_t> parse_address(std::string_view text);

}  // namespace iovamap
