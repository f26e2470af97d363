#include "iovamap/range.h"

#include <cinttypes>
#include <cstdio>

namespace iovamap {

Result<Range> Range::make(uint64_t first, uint64_t last) {
  if (first > last)
    return make_error(EINVAL, "range " + hex(first) + "-" + hex(last) + " is reversed");
  return Range{first, last};
}

Result<Range> Range::from_start_length(uint64_t start, uint64_t length) {
  if (length == 0) return make_error(EINVAL, "range at " + hex(start) + " has length 0");
  if (length - 1 > kMaxAddress - start)
    return make_error(EINVAL,
                      "range at " + hex(start) + " of length " + hex(length) + " passes 2^64-1");
  return Range{start, start + (length - 1)};
}

std::string to_sysfs_string(const Range& range) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "0x%016" PRIx64 " 0x%016" PRIx64, range.first, range.last);
  return buf;
}

std::string to_string(const std::vector<Range>& ranges) {
  std::string out;
  for (const Range& r : ranges) out += (out.empty() ? "" : ", ") + to_string(r);
  return out.empty() ? "(none)" : out;
}

std::string hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, value);
  return buf;
}

std::string to_string(const Range& range) {
  return "[" + hex(range.first) + ", " + hex(range.last) + "]";
}

std::string human_size(u128 size) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int unit = 0;
  u128 scaled = size;
  while (unit < 6 && scaled >= 1024) {
    scaled /= 1024;
    ++unit;
  }
  u128 base = u128{1} << (10 * unit);
  char buf[48];
  if (scaled * base == size) {
    std::snprintf(buf, sizeof buf, "%" PRIu64 " %s", static_cast<uint64_t>(scaled), kUnits[unit]);
  } else {
    double value = static_cast<double>(size) / static_cast<double>(base);
    std::snprintf(buf, sizeof buf, "%.1f %s", value, kUnits[unit]);
  }
  return buf;
}

}  // namespace iovamap
