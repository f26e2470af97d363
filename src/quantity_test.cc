// Quantities against hand cases at the edges (0, 2^64-1, 2^64) and a property: any value
// printed in any accepted form parses back to itself.
#include "iovamap/quantity.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cinttypes>
#include <cstdio>

namespace iovamap {
namespace {

constexpr u128 kTwo64 = u128{1} << 64;

TEST(Quantity, HandCases) {
  EXPECT_EQ(parse_size("0").value(), 0u);
  EXPECT_EQ(parse_size("0x0").value(), 0u);
  EXPECT_EQ(parse_size("4096").value(), 4096u);
  EXPECT_EQ(parse_size("16MiB").value(), u128{16} << 20);
  EXPECT_EQ(parse_size("16 MiB").value(), u128{16} << 20);
  EXPECT_EQ(parse_size("4K").value(), 4096u);
  EXPECT_EQ(parse_size("0x10G").value(), u128{16} << 30);
  EXPECT_EQ(parse_size("16EiB").value(), kTwo64);
  EXPECT_EQ(parse_size("0x10000000000000000").value(), kTwo64);
  EXPECT_EQ(parse_size("18446744073709551616").value(), kTwo64);
  EXPECT_EQ(parse_address("0xffffffffffffffff").value(), kMaxAddress);
  EXPECT_EQ(parse_address("18446744073709551615").value(), kMaxAddress);
  EXPECT_EQ(parse_address("0XFEE00000").value(), 0xfee00000u);
  EXPECT_EQ(parse_address("16EiB").error().code, ERANGE);
  EXPECT_EQ(parse_size("17EiB").error().code, ERANGE);
  EXPECT_EQ(parse_size("0x10000000000000001").error().code, ERANGE);
  EXPECT_EQ(parse_size("18446744073709551617").error().code, ERANGE);
  EXPECT_EQ(parse_size("99999999999999999999999999999999999999999").error().code, ERANGE);
  for (const char* bad :
       {"", "x", "0x", "-1", "+1", "1KB", "1 k", "1  K", "1.5G", "0x1g", " 1", "1 ", "1Ki", "1e3"})
    EXPECT_EQ(parse_size(bad).ok() ? 0 : parse_size(bad).error().code, EINVAL) << bad;
}

RC_GTEST_PROP(Quantity, PrintedFormsParseBack, (uint64_t value, uint8_t shift_pick)) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%" PRIu64, value);
  RC_ASSERT(parse_address(buf).value() == value);
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, value);
  RC_ASSERT(parse_address(buf).value() == value);
  static const char* const kUnits[] = {"K", "MiB", "G", "TiB", "P", "EiB"};
  int unit = shift_pick % 6;
  uint64_t small = (value >> 4) >> (10 * (unit + 1));  // fits after scaling
  std::snprintf(buf, sizeof buf, "%" PRIu64 "%s", small, kUnits[unit]);
  RC_ASSERT(parse_size(buf).value() == u128{small} << (10 * (unit + 1)));
}

}  // namespace
}  // namespace iovamap
