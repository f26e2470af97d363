// Closed address intervals over the full 64-bit space.
//
// A `Range` is `[first, last]` with first <= last, both inclusive, so the whole space
// [0, 2^64-1] is representable and no range is empty. Sizes go up to 2^64 and are therefore
// returned as `u128`. The kernel describes regions as (start, length) with a 64-bit length;
// `Range::from_start_length` converts and refuses what the kernel cannot describe.
//
// Example:
//   Range msi{0xfee00000, 0xfeefffff};
//   msi.size();                         // 0x100000
//   msi.contains(0xfee01000);           // true
//   Range::from_start_length(0, 0);     // error: empty
//
// Sharp edge: aggregate initialisation does not check first <= last; use `Range::make` for
// input you did not compute yourself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "iovamap/result.h"

namespace iovamap {

using u128 = unsigned __int128;

inline constexpr uint64_t kMaxAddress = ~uint64_t{0};

struct Range {
  uint64_t first = 0;
  uint64_t last = 0;

  // [first, last], or EINVAL when first > last.
  static Result<Range> make(uint64_t first, uint64_t last);
  // [start, start + length - 1], or EINVAL when length is 0 or the end passes 2^64-1.
  static Result<Range> from_start_length(uint64_t start, uint64_t length);
  // The whole 64-bit space.
  static constexpr Range all() { return Range{0, kMaxAddress}; }

  // Number of addresses, 1 to 2^64.
  constexpr u128 size() const { return u128{last} - first + 1; }
  constexpr bool contains(uint64_t address) const { return first <= address && address <= last; }
  constexpr bool contains(const Range& other) const {
    return first <= other.first && other.last <= last;
  }
  constexpr bool overlaps(const Range& other) const {
    return first <= other.last && other.first <= last;
  }
  // True when the two ranges overlap or touch (other starts right after this one or the
  // reverse), i.e. their union is one range.
  constexpr bool touches(const Range& other) const {
    return overlaps(other) || (last != kMaxAddress && last + 1 == other.first) ||
           (other.last != kMaxAddress && other.last + 1 == first);
  }

  friend constexpr bool operator==(const Range&, const Range&) = default;
  friend constexpr auto operator<=>(const Range&, const Range&) = default;
};

// "0x%016llx 0x%016llx": the format of sysfs and of our `ranges --format sysfs` output.
std::string to_sysfs_string(const Range& range);
// "[0xfee00000, 0xfeefffff]": short form for messages.
std::string to_string(const Range& range);
// "[0x0, 0xfedfffff], [0xfef00000, 0x7fffffffff]", or "(none)": a list of ranges for messages.
std::string to_string(const std::vector<Range>& ranges);
// "0xfee00000": lower-case hex with 0x, no padding.
std::string hex(uint64_t value);
// "4 KiB", "1.5 GiB", "16 EiB": a size for people, exact when it is a whole number of units.
std::string human_size(u128 size);

}  // namespace iovamap
