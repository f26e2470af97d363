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
    // A wildcard device needs a class match; an exact id may carry one (1023:2000 is audio or
    // Ethernet depending on the class). Matches are 24-bit.
    if (e.device == kAnyDevice) {
      EXPECT_NE(e.class_mask, 0u);
    }
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
      {0x8086, 0x0162, 0x030000, 40, "i915"},        // Ivy Bridge GT2 desktop
      {0x8086, 0x0412, 0x030000, 40, "i915"},        // Haswell GT2 desktop
      {0x8086, 0x1912, 0x030000, 39, "i915"},        // Skylake GT2 desktop
      {0x8086, 0x5912, 0x030000, 39, "i915"},        // Kaby Lake GT2 desktop
      {0x168c, 0x003e, 0x028000, 32, "ath10k_pci"},  // QCA6174
      {0x4005, 0x4000, 0x040100, 24, "snd_als4000"},
      {0x125d, 0x1969, 0x040100, 24, "snd_es1938"},    // ESS Solo-1
      {0x125d, 0x1998, 0x040100, 28, "snd_maestro3"},  // Maestro3, audio function
      {0x1412, 0x1712, 0x040100, 28, "snd_ice1712"},
      {0x1102, 0x0002, 0x040100, 31, "snd_emu10k1"},  // EMU10K1
      {0x1102, 0x0004, 0x040100, 32, "snd_emu10k1"},  // Audigy
      {0x168c, 0x0030, 0x028000, 32, "ath9k"},        // AR9300
      {0x14c3, 0x7961, 0x028000, 32, "mt7921e"},      // MT7921
      {0x14e4, 0x4401, 0x020000, 30, "b44"},
      {0x10de, 0x0ab0, 0x068000, 39, "forcedeth"},  // MCP79: DEV_HAS_HIGH_DMA
      {0x10de, 0x01c3, 0x068000, 32, "forcedeth"},  // nForce: no DEV_HAS_HIGH_DMA
      {0x8086, 0x1229, 0x020000, 32, "e100"},       // 82557/8/9
      {0x1022, 0x2000, 0x020000, 32, "pcnet32"},
      {0x1b21, 0x2142, 0x0c0330, 32, "xhci_hcd"},  // ASM2142
      {0x1039, 0x7018, 0x040100, 30, "snd_trident"},
      {0x8086, 0x2934, 0x0c0300, 32, "uhci_hcd"},  // ICH9 UHCI, by class
      {0x106b, 0x003f, 0x0c0310, 32, "ohci-pci"},  // Apple OHCI (QEMU's pci-ohci), by class
  };
  for (const Spot& s : spots) {
    SCOPED_TRACE(testing::Message() << std::hex << s.vendor << ":" << s.device);
    const KnownDmaLimit* e = find_known_dma_limit(s.vendor, s.device, s.class_code);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->bits, s.bits);
    EXPECT_EQ(e->driver, s.driver);
  }
}

TEST(KnownDevices, ExactIdsBeatClassEntries) {
  // ASM2142 asked with the UHCI class: its own id wins over the any-vendor UHCI class entry.
  const KnownDmaLimit* e = find_known_dma_limit(0x1b21, 0x2142, 0x0c0300);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->driver, "xhci_hcd");
  // Another ASMedia function of that class falls back to the class entry.
  e = find_known_dma_limit(0x1b21, 0x1234, 0x0c0300);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->driver, "uhci_hcd");
  // Bits above the 24-bit class are ignored; other prog-ifs do not match.
  EXPECT_EQ(find_known_dma_limit(0x8086, 0x2934, 0xff0c0300), e);
  EXPECT_EQ(find_known_dma_limit(0x8086, 0x2934, 0x0c0320), nullptr);  // EHCI
}

TEST(KnownDevices, OneIdTwoClasses) {
  // 1023:2000 is a Trident 4DWave DX when it says audio, a PCnet when it says Ethernet.
  const KnownDmaLimit* audio = find_known_dma_limit(0x1023, 0x2000, 0x040100);
  const KnownDmaLimit* net = find_known_dma_limit(0x1023, 0x2000, 0x020000);
  ASSERT_NE(audio, nullptr);
  ASSERT_NE(net, nullptr);
  EXPECT_EQ(audio->bits, 30u);
  EXPECT_EQ(net->bits, 32u);
  EXPECT_EQ(net->driver, "pcnet32");
  EXPECT_EQ(find_known_dma_limit(0x1023, 0x2000, 0x030000), nullptr);
  // A Maestro3's modem function is not driven by snd_maestro3.
  EXPECT_EQ(find_known_dma_limit(0x125d, 0x1998, 0x070300), nullptr);
}

TEST(KnownDevices, UnknownDevicesAreNotFound) {
  EXPECT_EQ(find_known_dma_limit(0x8086, 0x10d3, 0x020000), nullptr);  // e1000e: 64-bit
  EXPECT_EQ(find_known_dma_limit(0x1b36, 0x0010, 0x010802), nullptr);  // QEMU NVMe: 64-bit
  EXPECT_EQ(find_known_dma_limit(0x0000, 0x0000, 0x000000), nullptr);
  EXPECT_EQ(find_known_dma_limit(0x1002, 0x0000, 0x000000), nullptr);
  // The wildcard ids as queries reach class entries only.
  EXPECT_EQ(find_known_dma_limit(0x1002, kAnyDevice, 0x030000), nullptr);
  EXPECT_EQ(find_known_dma_limit(kAnyVendor, 0x67df, 0x030000), nullptr);
  const KnownDmaLimit* uhci = find_known_dma_limit(kAnyVendor, kAnyDevice, 0x0c0300);
  ASSERT_NE(uhci, nullptr);
  EXPECT_EQ(uhci->driver, "uhci_hcd");
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

struct Query {
  uint16_t vendor, device;
  uint32_t class_code;
};

// Queries built around a random entry of the table, so that exact ids, class entries and their
// interplay are all hit often: the entry's own ids most of the time, the class from a short
// list of the classes the table cares about, or anything.
rc::Gen<Query> gen_query() {
  auto table = known_dma_limits();
  static const std::vector<uint32_t> kClasses{0x000000, 0x020000, 0x030000, 0x040100,
                                              0x0c0300, 0x0c0310, 0x0c0330};
  return rc::gen::mapcat(rc::gen::inRange<size_t>(0, table.size()), [table](size_t i) {
    const KnownDmaLimit& e = table[i];
    return rc::gen::construct<Query>(
        rc::gen::weightedOneOf<uint16_t>(
            {{4, rc::gen::just(e.vendor)}, {1, rc::gen::arbitrary<uint16_t>()}}),
        rc::gen::weightedOneOf<uint16_t>(
            {{4, rc::gen::just(e.device)}, {1, rc::gen::arbitrary<uint16_t>()}}),
        rc::gen::weightedOneOf<uint32_t>({{2, rc::gen::elementOf(kClasses)},
                                          {1, rc::gen::just(e.class_code)},
                                          {1, rc::gen::arbitrary<uint32_t>()}}));
  });
}

RC_GTEST_PROP(KnownDevices, LookupMatchesBruteForce, ()) {
  const auto queries = *rc::gen::container<std::vector<Query>>(20, gen_query());
  for (const Query& q : queries) {
    // A query for the wildcard ids themselves reaches class entries only, a rule the model
    // does not have; UnknownDevicesAreNotFound covers it.
    if (q.vendor == kAnyVendor || q.device == kAnyDevice) continue;
    RC_ASSERT(find_known_dma_limit(q.vendor, q.device, q.class_code) ==
              reference_find(q.vendor, q.device, q.class_code));
  }
}

TEST(KnownDevices, EveryEntryFindsItself) {
  for (const KnownDmaLimit& e : known_dma_limits()) {
    if (e.device == kAnyDevice) continue;
    // Any class that the entry accepts: its own class code with the unmatched bits varied.
    EXPECT_EQ(find_known_dma_limit(e.vendor, e.device, e.class_code | (0x123456 & ~e.class_mask)),
              &e);
  }
}

// Real kernels as the judge: tests/data/known-devices/real-6.12.txt holds what Linux 6.12
// reported for PCI functions under QEMU and in the project's sysfs snapshots. Where the table
// names the bound driver, the kernel's mask must be the table's; a function its driver raised
// to 64 bits must not be in the table at all.
TEST(KnownDevices, AgreesWithRealKernels) {
  const std::string path = std::string(IOVAMAP_TEST_DATA) + "/known-devices/real-6.12.txt";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path << ": cannot open";
  std::string line;
  int line_number = 0, agreed = 0, checked_64 = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string source, bdf, driver;
    unsigned vendor = 0, device = 0, class_code = 0, mask_bits = 0, coherent_bits = 0;
    fields >> source >> bdf >> std::hex >> vendor >> device >> class_code >> std::dec >>
        mask_bits >> coherent_bits >> driver;
    if (!fields || vendor > 0xffff || device > 0xffff) {
      ADD_FAILURE() << path << ":" << line_number << ": malformed line '" << line << "'";
      continue;
    }
    SCOPED_TRACE(testing::Message() << path << ":" << line_number << ": " << line);
    if (driver == "-") continue;
    const KnownDmaLimit* e =
        find_known_dma_limit(uint16_t(vendor), uint16_t(device), uint32_t(class_code));
    if (mask_bits == 64) {
      EXPECT_EQ(e, nullptr) << "the kernel drives this function with a 64-bit mask";
      ++checked_64;
    } else if (e != nullptr && e->driver == driver) {
      EXPECT_EQ(e->bits, mask_bits);
      ++agreed;
    }
  }
  // e100 (4 functions), pcnet32, ohci-pci and uhci_hcd (4: QEMU and the three snapshots).
  EXPECT_EQ(agreed, 10);
  EXPECT_GE(checked_64, 10);
}

}  // namespace
}  // namespace iovamap
