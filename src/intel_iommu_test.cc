// Intel VT-d: register decoding, the paging domain per kernel version, the device-dependent
// regions. Each version- or device-dependent rule has a test that fails when it is modelled
// wrongly; the domain derivation is checked exhaustively over MGAW x SAGAW x the scalable-mode
// bits against a set-based reference written from the VT-d spec's field layout.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <set>

#include "iovamap/iommu_driver.h"

namespace iovamap {
namespace {

constexpr KernelVersion k510{5, 10};
constexpr KernelVersion k515{5, 15};
constexpr KernelVersion k61{6, 1};
constexpr KernelVersion k612{6, 12};
constexpr KernelVersion k613{6, 13};
constexpr KernelVersion k618{6, 18};

constexpr uint64_t kSmts = uint64_t{1} << 43;
constexpr uint64_t kSlts = uint64_t{1} << 46;
constexpr uint64_t kFlts = uint64_t{1} << 47;
constexpr uint64_t kFl1gp = uint64_t{1} << 56;
constexpr uint64_t kFl5lp = uint64_t{1} << 60;

// A cap register with the given MGAW (width, 1..64), SAGAW bits and SLLPS bits.
uint64_t make_cap(unsigned mgaw, unsigned sagaw, unsigned sllps = 0, uint64_t extra = 0) {
  return (uint64_t{mgaw - 1} << 16) | (uint64_t{sagaw} << 8) | (uint64_t{sllps} << 34) | extra;
}

// Reads bit `i` of `v` one at a time: the reference decoder does not share the masks.
unsigned field(uint64_t v, int low, int high) {
  unsigned out = 0;
  for (int i = high; i >= low; --i) out = (out << 1) | ((v >> i) & 1);
  return out;
}

RC_GTEST_PROP(IntelCap, DecodeMatchesBitByBitReference, (uint64_t cap, uint64_t ecap)) {
  const IntelCap c = decode_intel_cap(cap);
  RC_ASSERT(c.mgaw == field(cap, 16, 21) + 1);
  RC_ASSERT(c.sagaw == field(cap, 8, 12));
  RC_ASSERT(c.sllps == field(cap, 34, 37));
  RC_ASSERT(c.fl1gp == (field(cap, 56, 56) == 1));
  RC_ASSERT(c.fl5lp == (field(cap, 60, 60) == 1));
  const IntelEcap e = decode_intel_ecap(ecap);
  RC_ASSERT(e.smts == (field(ecap, 43, 43) == 1));
  RC_ASSERT(e.slts == (field(ecap, 46, 46) == 1));
  RC_ASSERT(e.flts == (field(ecap, 47, 47) == 1));
}

// The reference: widths as sets, the stage choice as a per-version truth table.
struct RefDomain {
  bool ok = false;
  bool first_stage = false;
  unsigned width = 0;
  uint64_t last = 0;
};

RefDomain reference_domain(unsigned mgaw, unsigned sagaw, bool fl5lp, bool smts, bool slts,
                           bool flts, bool sm_setting, KernelVersion k) {
  const bool sm = sm_setting && smts;
  bool first;
  if (!sm) {
    first = false;
  } else if (k < k515) {
    first = flts;  // first-level whenever available
  } else if (k < k613) {
    first = flts && !slts;  // unmanaged domains prefer second-level
  } else {
    first = flts || !slts;  // first-level whenever available (and when neither is)
  }
  if (first && !flts) return {};
  std::set<unsigned> second_widths, first_widths{48};
  for (unsigned n = 0; n < 5; ++n)
    if (sagaw & (1u << n)) second_widths.insert(30 + 9 * n);
  if (fl5lp) first_widths.insert(57);
  std::set<unsigned> usable = second_widths;
  if (sm && flts) {
    usable.clear();
    for (unsigned w : first_widths)
      if (!slts || second_widths.count(w)) usable.insert(w);
  }
  unsigned chosen = 0;
  for (unsigned w : usable)
    if (w <= 57) chosen = w;  // the largest not above the 57-bit default domain width
  if (chosen == 0) return {};
  RefDomain r;
  r.ok = true;
  r.first_stage = first;
  r.width = chosen < mgaw ? chosen : mgaw;
  const unsigned bits = first ? r.width - 1 : r.width;
  r.last = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  return r;
}

TEST(IntelPagingDomain, ExhaustiveAgainstReference) {
  int checked = 0;
  for (KernelVersion k : {k510, k515, k61, k612, k613, k618}) {
    for (unsigned mgaw = 1; mgaw <= 64; ++mgaw) {
      for (unsigned sagaw = 0; sagaw < 32; ++sagaw) {
        for (unsigned flags = 0; flags < 32; ++flags) {
          const bool fl5lp = flags & 1, smts = flags & 2, slts = flags & 4, flts = flags & 8,
                     sm = flags & 16;
          const uint64_t cap = make_cap(mgaw, sagaw, 0, fl5lp ? kFl5lp : 0);
          const uint64_t ecap = (smts ? kSmts : 0) | (slts ? kSlts : 0) | (flts ? kFlts : 0);
          const RefDomain want = reference_domain(mgaw, sagaw, fl5lp, smts, slts, flts, sm, k);
          Result<IntelPagingDomain> got = intel_paging_domain(cap, ecap, sm, k);
          ASSERT_EQ(got.ok(), want.ok) << "mgaw " << mgaw << " sagaw " << sagaw << " flags "
                                       << flags << " kernel " << k.to_string();
          if (!want.ok) {
            ASSERT_EQ(got.error().code, ENODEV);
            continue;
          }
          ASSERT_EQ(got->first_stage, want.first_stage);
          ASSERT_EQ(got->width, want.width);
          ASSERT_EQ(got->aperture, (Range{0, want.last}))
              << "mgaw " << mgaw << " sagaw " << sagaw << " flags " << flags;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 100000);
}

// The stage a VFIO domain gets on a unit with both stages in scalable mode changed twice.
TEST(IntelPagingDomain, StageChoicePerVersion) {
  const uint64_t cap = make_cap(48, 0b0110);  // 39- and 48-bit second-stage
  const uint64_t both = kSmts | kSlts | kFlts;
  EXPECT_TRUE(intel_paging_domain(cap, both, true, k510)->first_stage);
  EXPECT_FALSE(intel_paging_domain(cap, both, true, k61)->first_stage);
  EXPECT_FALSE(intel_paging_domain(cap, both, true, k612)->first_stage);
  EXPECT_TRUE(intel_paging_domain(cap, both, true, k613)->first_stage);
  // First-stage drops the top bit: 48 bits give [0, 2^47 - 1].
  EXPECT_EQ(intel_paging_domain(cap, both, true, k510)->aperture, (Range{0, 0x7fffffffffff}));
  EXPECT_EQ(intel_paging_domain(cap, both, true, k612)->aperture, (Range{0, 0xffffffffffff}));
  // Scalable mode off on the kernel command line: second-stage everywhere.
  for (KernelVersion k : {k510, k61, k612, k618})
    EXPECT_FALSE(intel_paging_domain(cap, both, false, k)->first_stage);
  // A first-stage-only unit: first-stage everywhere, 48 bits without 5-level paging.
  for (KernelVersion k : {k510, k61, k612, k618}) {
    Result<IntelPagingDomain> d = intel_paging_domain(cap, kSmts | kFlts, true, k);
    EXPECT_TRUE(d->first_stage);
    EXPECT_EQ(d->width, 48u);
  }
}

TEST(IntelPagingDomain, AgawPicksLargestSupportedCappedByMgaw) {
  // QEMU aw-bits=39: SAGAW 39 only, MGAW 39.
  EXPECT_EQ(intel_paging_domain(make_cap(39, 0b0010), 0, false, k612)->width, 39u);
  // SAGAW 39+48 with MGAW 39: the 48-bit agaw is chosen, the width capped to 39.
  Result<IntelPagingDomain> capped = intel_paging_domain(make_cap(39, 0b0110), 0, false, k612);
  EXPECT_EQ(capped->agaw, 2);
  EXPECT_EQ(capped->width, 39u);
  // 57 bits (5-level) is the largest the default domain width allows; 64-bit SAGAW bit 4 alone
  // leaves nothing.
  EXPECT_EQ(intel_paging_domain(make_cap(57, 0b11110), 0, false, k612)->width, 57u);
  EXPECT_EQ(intel_paging_domain(make_cap(64, 0b10000), 0, false, k612).error().code, ENODEV);
  EXPECT_EQ(intel_paging_domain(make_cap(48, 0), 0, false, k612).error().code, ENODEV);
}

TEST(IntelPageSizes, PerVersionAndSuperPageRules) {
  const uint64_t both_sllps = make_cap(48, 0b0100, 0b0011);
  // Before 5.15 the driver advertised every power of two from 4 KiB.
  EXPECT_EQ(intel_paging_domain(both_sllps, 0, false, k510)->page_sizes, 0xfffffffffffff000u);
  EXPECT_EQ(intel_paging_domain(both_sllps, 0, false, k515)->page_sizes, 0x40201000u);
  EXPECT_EQ(intel_paging_domain(make_cap(48, 0b0100, 0b0001), 0, false, k612)->page_sizes,
            0x201000u);
  EXPECT_EQ(intel_paging_domain(make_cap(48, 0b0100, 0), 0, false, k612)->page_sizes, 0x1000u);
  // fls() quirk: SLLPS 0b0010 (1 GiB without 2 MiB) still yields 2 MiB and 1 GiB.
  EXPECT_EQ(intel_paging_domain(make_cap(48, 0b0100, 0b0010), 0, false, k612)->page_sizes,
            0x40201000u);
  // Up to 6.12 only SLLPS bits 0-1 count; from 6.13 all four go into fls(), and a level above
  // 2 adds no super page at all.
  const uint64_t sllps_0101 = make_cap(48, 0b0100, 0b0101);
  EXPECT_EQ(intel_paging_domain(sllps_0101, 0, false, k612)->page_sizes, 0x201000u);
  EXPECT_EQ(intel_paging_domain(sllps_0101, 0, false, k613)->page_sizes, 0x1000u);
  // First-stage: 2 MiB always, 1 GiB with FL1GP; SLLPS does not matter.
  const uint64_t fl_only = kSmts | kFlts;
  EXPECT_EQ(intel_paging_domain(make_cap(48, 0b0100, 0, kFl1gp), fl_only, true, k612)->page_sizes,
            0x40201000u);
  EXPECT_EQ(intel_paging_domain(make_cap(48, 0b0100, 0b11), fl_only, true, k612)->page_sizes,
            0x201000u);
}

TEST(IntelUnit, ApertureAndPageSizesNeedCap) {
  IommuUnit unit{.name = "dmar3", .driver = "intel"};
  Result<Aperture> ap = paging_aperture(unit, k612);
  ASSERT_FALSE(ap);
  EXPECT_EQ(ap.error().code, ENODATA);
  EXPECT_NE(ap.error().message.find("dmar3"), std::string::npos);
  EXPECT_EQ(page_sizes(unit, k612).error().code, ENODATA);
  // Without ecap: the legacy answer, said so.
  unit.registers["cap"] = make_cap(48, 0b0110, 0b11);
  EXPECT_EQ(paging_aperture(unit, k612)->range, (Range{0, 0xffffffffffff}));
  EXPECT_NE(paging_aperture(unit, k612)->provenance.detail.find("ecap unknown"), std::string::npos);
  // intel_iommu=sm_off is honoured through the unit's setting.
  unit.registers["ecap"] = kSmts | kFlts;
  EXPECT_EQ(paging_aperture(unit, k612)->range, (Range{0, 0x7fffffffffff}));
  unit.settings["scalable-mode"] = 0;
  EXPECT_EQ(paging_aperture(unit, k612)->range, (Range{0, 0xffffffffffff}));
  // A unit the kernel ignores.
  unit.registers["cap"] = make_cap(48, 0);
  unit.registers["ecap"] = 0;
  EXPECT_EQ(paging_aperture(unit, k612).error().code, ENODEV);
}

Device pci(uint32_t class_code, bool is_pci = true) {
  Device d;
  d.name = "0000:00:14.0";
  d.class_code = class_code;
  d.is_pci = is_pci;
  return d;
}

const IommuUnit kDmar0{.name = "dmar0", .driver = "intel"};

std::vector<RegionType> types_of(const std::vector<ReservedRegion>& regions) {
  std::vector<RegionType> out;
  for (const ReservedRegion& r : regions) out.push_back(r.type);
  return out;
}

TEST(IntelRegions, RmrrRelaxableOnlyForUsbAndDisplay) {
  const ReservedRegion rmrr =
      ReservedRegion::make(Range{0x7d000000, 0x7dffffff}, RegionType::kDirect);
  struct Case {
    uint32_t class_code;
    bool is_pci;
    RegionType want;
  };
  for (const Case& c : {Case{0x0c0330, true, RegionType::kDirectRelaxable},  // xHCI
                        Case{0x0c0300, true, RegionType::kDirectRelaxable},  // UHCI
                        Case{0x030000, true, RegionType::kDirectRelaxable},  // VGA
                        Case{0x038000, true, RegionType::kDirectRelaxable},  // other display
                        Case{0x0c0500, true, RegionType::kDirect},           // SMBus (0x0c05)
                        Case{0x020000, true, RegionType::kDirect},           // Ethernet
                        Case{0x040300, true, RegionType::kDirect},           // audio
                        Case{0x0c0330, false, RegionType::kDirect}}) {       // not PCI
    Device d = pci(c.class_code, c.is_pci);
    d.firmware_regions = {rmrr};
    const auto regions = device_regions(kDmar0, d, k612);
    ASSERT_EQ(regions.size(), 2u) << std::hex << c.class_code;
    EXPECT_EQ(regions[0].type, c.want) << std::hex << c.class_code;
    EXPECT_EQ(regions[0].range(), rmrr.range());
    EXPECT_EQ(regions[0].provenance.at(0).origin, Origin::kFirmware);
  }
}

TEST(IntelRegions, FloppyWorkaroundForIsaBridgesOnly) {
  // ISA bridge (0x0601xx): RMRRs (direct: an ISA bridge is not relaxable), the 16 MiB
  // direct-relaxable window, then MSI; in that order in every modelled release.
  Device isa = pci(0x060100);
  isa.firmware_regions = {
      ReservedRegion::make(Range{0x1000, 0x1fff}, RegionType::kDirect, {Origin::kFirmware, "x"})};
  for (KernelVersion k : {k510, k61, k612, k618}) {
    const auto regions = device_regions(kDmar0, isa, k);
    EXPECT_EQ(types_of(regions),
              (std::vector<RegionType>{RegionType::kDirect, RegionType::kDirectRelaxable,
                                       RegionType::kMsi}));
    EXPECT_EQ(regions[1].range(), (Range{0, 0xffffff}));
    EXPECT_EQ(regions[1].provenance.at(0).origin, Origin::kDriver);
    EXPECT_EQ(regions[2].range(), (Range{0xfee00000, 0xfeefffff}));
  }
  // A PCI-to-PCI bridge (0x0604), a host bridge (0x0600) and a non-PCI device get no window.
  for (Device d : {pci(0x060400), pci(0x060000), pci(0x060100, false)})
    EXPECT_EQ(types_of(device_regions(kDmar0, d, k612)),
              (std::vector<RegionType>{RegionType::kMsi}));
}

TEST(IntelRegister, ParsesBareHexOnly) {
  EXPECT_EQ(*parse_intel_register("d2008c22260206\n", "cap"), 0xd2008c22260206u);
  EXPECT_EQ(*parse_intel_register("f00f4a", "ecap"), 0xf00f4au);
  EXPECT_EQ(*parse_intel_register("0\n", "cap"), 0u);
  EXPECT_EQ(*parse_intel_register("ffffffffffffffff\n", "cap"), kMaxAddress);
  for (const char* bad : {"", "\n", "0xd2008c22260206", "-1", "+1", " d2", "d2 ", "d2\n\n",
                          "1ffffffffffffffff", "g00d", "d2:00"}) {
    Result<uint64_t> r = parse_intel_register(bad, "sys/class/iommu/dmar0/intel-iommu/cap");
    ASSERT_FALSE(r) << "'" << bad << "'";
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_EQ(r.error().message.rfind("sys/class/iommu/dmar0/intel-iommu/cap: ", 0), 0u)
        << r.error().message;
  }
}

RC_GTEST_PROP(IntelRegister, RoundTripsWhatTheKernelPrints, (uint64_t value)) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%" PRIx64 "\n", value);  // cap_show: "%llx\n"
  Result<uint64_t> parsed = parse_intel_register(buf, "cap");
  RC_ASSERT(parsed.ok());
  RC_ASSERT(*parsed == value);
}

}  // namespace
}  // namespace iovamap
