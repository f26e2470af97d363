// dma-ranges on hand-built big-endian properties: plain and PCI buses, cells wider than 64
// bits, trailing bytes, the kernel's cell-count rules, and the limit rule with its terminator.
#include "iovamap/dt_dma_ranges.h"

#include <gtest/gtest.h>

namespace iovamap {
namespace {

std::string cells(std::initializer_list<uint32_t> values) {
  std::string out;
  for (uint32_t v : values)
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(v >> shift);
  return out;
}

TEST(DtDmaRanges, CellCountProperty) {
  EXPECT_EQ(*parse_dt_cells(cells({2}), "#address-cells"), 2u);
  Result<unsigned> bad = parse_dt_cells("\x01\x02", "soc/#size-cells");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "soc/#size-cells: 2 bytes, expected one 4-byte cell");
}

TEST(DtDmaRanges, PlainBusTwoEntries) {
  // Raspberry Pi 4 style: bus 0x0 -> cpu 0x0, 1 GiB; bus 0x1_0000_0000 -> cpu 0x0, 3 GiB.
  const std::string prop = cells({0, 0, 0, 0, 0x40000000, 1, 0, 0, 0, 0xc0000000});
  Result<std::vector<DtDmaRange>> r = parse_dt_dma_ranges(
      prop, {.child_address_cells = 2, .parent_address_cells = 2, .size_cells = 1},
      "emmc2bus/dma-ranges");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].offset, 20u);
  EXPECT_EQ((*r)[1].bus_address, 0x100000000u);
  EXPECT_EQ((*r)[1].size, 0xc0000000u);
  EXPECT_EQ(dt_bus_dma_limit(*r).last, 0x1bfffffffu);
}

TEST(DtDmaRanges, PciBusSkipsTheFlagsCell) {
  const std::string prop = cells({0x02000000, 0x10, 0, 0, 0, 1, 0, 0xdead});  // + 1 cell over
  Result<std::vector<DtDmaRange>> r = parse_dt_dma_ranges(
      prop, {.child_address_cells = 3, .parent_address_cells = 2, .size_cells = 2, .pci = true},
      "pcie/dma-ranges");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].bus_address, 0x1000000000u);
  EXPECT_EQ((*r)[0].size, 0x100000000u);
  EXPECT_EQ(dt_bus_dma_limit(*r).last, 0x10ffffffffu);
  EXPECT_FALSE(parse_dt_dma_ranges(prop, {.child_address_cells = 2, .pci = true}, "pcie"));
}

TEST(DtDmaRanges, WideCellsKeepTheLow64BitsAndPartialEntriesAreNotRead) {
  // 3 address cells on a non-PCI bus: the top cell falls off, as of_read_number drops it.
  const std::string prop = cells({0xffffffff, 0, 0x1000, 0, 0x1000}) + "\x01\x02";
  Result<std::vector<DtDmaRange>> r = parse_dt_dma_ranges(
      prop, {.child_address_cells = 3, .parent_address_cells = 1, .size_cells = 1}, "bus");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].bus_address, 0x1000u);
  EXPECT_EQ(dt_bus_dma_limit(*r).last, 0x1fffu);
  Result<std::vector<DtDmaRange>> none = parse_dt_dma_ranges("", {}, "bus");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(dt_bus_dma_limit(*none).last);
}

TEST(DtDmaRanges, CellCountsTheKernelRefuses) {
  EXPECT_FALSE(parse_dt_dma_ranges("", {.child_address_cells = 0}, "bus"));
  EXPECT_FALSE(parse_dt_dma_ranges("", {.child_address_cells = 5}, "bus"));
  EXPECT_FALSE(parse_dt_dma_ranges("", {.parent_address_cells = 0}, "bus"));
  Result<std::vector<DtDmaRange>> r = parse_dt_dma_ranges("", {.size_cells = 0}, "soc/dma-ranges");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "soc/dma-ranges: cell counts 2/2/0 (address 1 to 4, size 1 or more: the kernel "
            "refuses others)");
}

TEST(DtDmaRanges, LimitStopsAtAZeroSizeAndReachesTheTop) {
  std::vector<DtDmaRange> r{{0, 0, 0, 0x1000}, {12, 0x10000, 0, 0}, {24, 0x100000, 0, 0x1000}};
  EXPECT_EQ(dt_bus_dma_limit(r).last, 0xfffu);  // the third entry is past the terminator
  r = {{0, 0, 0, 0}};
  EXPECT_EQ(dt_bus_dma_limit(r).why, "no dma-ranges entry of non-zero size");
  r = {{0, 0xffffffff00000000, 0, 0x100000000}};
  EXPECT_EQ(dt_bus_dma_limit(r).last, UINT64_MAX);
}

}  // namespace
}  // namespace iovamap
