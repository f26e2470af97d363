#include "iovamap/map_file.h"

#include <gtest/gtest.h>

namespace iovamap {
namespace {

TEST(MapFile, ParsesLinesCommentsAndUnits) {
  Result<std::vector<PlannedMapping>> m = parse_map_file(
      "# guest RAM\n"
      "0x0 0xc0000000\n"
      "\n"
      "  0x100000000\t62GiB   # above 4 GiB\r\n"
      "4096 16 MiB\n"
      "0xfffffffffffff000 4K\n"
      "0 0x10000000000000000\n"
      "0 0",
      "vm.map");
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_EQ(m->size(), 6u);
  EXPECT_EQ((*m)[0].iova, 0u);
  EXPECT_EQ((*m)[0].size, 0xc0000000u);
  EXPECT_EQ((*m)[0].line, 2u);
  EXPECT_EQ((*m)[1].iova, 0x100000000u);
  EXPECT_EQ((*m)[1].size, u128{62} << 30);
  EXPECT_EQ((*m)[1].line, 4u);
  EXPECT_EQ((*m)[2].size, u128{16} << 20);
  EXPECT_EQ((*m)[3].iova, 0xfffffffffffff000u);
  EXPECT_EQ((*m)[4].size, u128{1} << 64);
  EXPECT_EQ((*m)[5].size, 0u);  // an answer for check, not a syntax error
  EXPECT_TRUE(parse_map_file("", "f").value().empty());
}

TEST(MapFile, BadLinesNameTheFileAndLine) {
  for (auto [text, expect] : std::vector<std::pair<std::string, std::string>>{
           {"0x1000\n", "m:1: expected 'IOVA SIZE'"},
           {"\n\n0x1000 1 2 3\n", "m:3: expected"},
           {"0x1000 1Q\n", "m:1: size"},
           {"0x10000000000000000 1\n", "m:1: IOVA"},
           {"# ok\nzz 1\n", "m:2: IOVA"},
           {"1 -1\n", "m:1: size"},
       }) {
    Result<std::vector<PlannedMapping>> m = parse_map_file(text, "m");
    ASSERT_FALSE(m) << text;
    EXPECT_NE(m.error().message.find(expect), std::string::npos) << m.error().message;
  }
}

}  // namespace
}  // namespace iovamap
