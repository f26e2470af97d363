// AMD-Vi: the features file per kernel version, regions (IVMD, MSI, HT hole), v1/v2 tables.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include <string>

#include "amd_iommu.h"
#include "iommu_driver_registry.h"
#include "iovamap/iommu_driver.h"

namespace iovamap {
namespace {

constexpr KernelVersion k510{5, 10};
constexpr KernelVersion k515{5, 15};
constexpr KernelVersion k60{6, 0};
constexpr KernelVersion k61{6, 1};
constexpr KernelVersion k64{6, 4};
constexpr KernelVersion k65{6, 5};
constexpr KernelVersion k612{6, 12};
constexpr KernelVersion k615{6, 15};
constexpr KernelVersion k616{6, 16};
constexpr KernelVersion k618{6, 18};
constexpr KernelVersion k619{6, 19};
constexpr KernelVersion k71{7, 1};
constexpr KernelVersion k72{7, 2};
constexpr KernelVersion k73{7, 3};

constexpr uint64_t kGt = uint64_t{1} << 4;
constexpr uint64_t kGioSup = uint64_t{1} << 48;
constexpr uint64_t kHtIgnore = uint64_t{1} << 11;

TEST(AmdFeatures, FormatPerKernelVersion) {
  // 5.x: the EFR alone.
  for (KernelVersion k : {k510, k515}) {
    Result<AmdFeatures> f = parse_amd_features("29d3\n", "features", k);
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_EQ(f->efr, 0x29d3u);
    EXPECT_FALSE(f->efr2);
    EXPECT_EQ(parse_amd_features("0:29d3\n", "features", k).error().code, EINVAL);
  }
  // 6.0-6.4: "EFR2:EFR" (per unit).
  for (KernelVersion k : {k60, k61, k64}) {
    Result<AmdFeatures> f = parse_amd_features("800:29d3\n", "features", k);
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_EQ(f->efr, 0x29d3u);
    EXPECT_EQ(*f->efr2, 0x800u);
  }
  // 6.5+: "EFR:EFR2" (common to all units); the real 6.12 file reads "29d3:0".
  for (KernelVersion k : {k65, k612, k618}) {
    Result<AmdFeatures> f = parse_amd_features("29d3:0\n", "features", k);
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_EQ(f->efr, 0x29d3u);
    EXPECT_EQ(*f->efr2, 0u);
    EXPECT_EQ(parse_amd_features("29d3\n", "features", k).error().code, EINVAL);
  }
}

TEST(AmdFeatures, BadTextNamesTheFile) {
  const std::string file = "sys/class/iommu/ivhd0/amd-iommu/features";
  for (const char* bad : {"", "\n", "0x29d3:0\n", "29d3:\n", ":0\n", "29d3:0:0\n", "zz:0\n",
                          "29d3 :0\n", "10000000000000000:0\n"}) {
    Result<AmdFeatures> f = parse_amd_features(bad, file, k612);
    ASSERT_FALSE(f) << "'" << bad << "'";
    EXPECT_EQ(f.error().code, EINVAL);
    EXPECT_EQ(f.error().message.rfind(file + ": ", 0), 0u) << f.error().message;
  }
  EXPECT_EQ(*parse_amd_cap("1f03000f\n", "cap"), 0x1f03000fu);
  EXPECT_EQ(parse_amd_cap("11f03000f\n", "cap").error().code, EINVAL);
  EXPECT_EQ(parse_amd_cap("0x1f\n", "cap").error().message.rfind("cap: ", 0), 0u);
}

RC_GTEST_PROP(AmdFeatures, RoundTripsWhatTheKernelPrints, (uint64_t efr, uint64_t efr2)) {
  char buf[64];
  // 6.1's amd_iommu_show_features: "%llx:%llx\n", features2, features.
  std::snprintf(buf, sizeof buf, "%" PRIx64 ":%" PRIx64 "\n", efr2, efr);
  Result<AmdFeatures> old = parse_amd_features(buf, "f", k61);
  RC_ASSERT(old.ok());
  RC_ASSERT(old->efr == efr);
  RC_ASSERT(*old->efr2 == efr2);
  // 6.12's: "%llx:%llx\n", amd_iommu_efr, amd_iommu_efr2.
  std::snprintf(buf, sizeof buf, "%" PRIx64 ":%" PRIx64 "\n", efr, efr2);
  Result<AmdFeatures> now = parse_amd_features(buf, "f", k612);
  RC_ASSERT(now.ok());
  RC_ASSERT(now->efr == efr);
  RC_ASSERT(*now->efr2 == efr2);
}

IommuUnit amd_unit() {
  IommuUnit unit;
  unit.name = "ivhd0";
  unit.driver = "amd";
  unit.registers["efr"] = 0x29d3;
  unit.registers["efr2"] = 0;
  return unit;
}

Device pci(uint32_t class_code) {
  Device d;
  d.name = "0000:00:14.0";
  d.class_code = class_code;
  return d;
}

TEST(AmdRegions, IvmdThenMsiThenHtHoleAndExclusionRangesAreDirect) {
  Device d = pci(0x0c0330);  // class does not matter on AMD
  d.firmware_regions = {
      ReservedRegion::make(Range{0x9d000000, 0x9dffffff}, RegionType::kDirect),
      // An IVMD exclusion range, as a topology might type it: the kernel reports it direct.
      ReservedRegion::make(Range{0xa0000000, 0xa00fffff}, RegionType::kReserved,
                           {Origin::kUser, "IVMD exclusion range"})};
  const auto regions = device_regions(amd_unit(), d, k612);
  ASSERT_EQ(regions.size(), 4u);
  EXPECT_EQ(regions[0].type, RegionType::kDirect);
  EXPECT_EQ(regions[1].type, RegionType::kDirect);
  EXPECT_EQ(regions[1].range(), (Range{0xa0000000, 0xa00fffff}));
  EXPECT_EQ(regions[1].provenance.at(0), (Provenance{Origin::kFirmware, "IVMD exclusion range"}));
  EXPECT_EQ(regions[2].type, RegionType::kMsi);
  EXPECT_EQ(regions[2].range(), (Range{0xfee00000, 0xfeefffff}));
  EXPECT_EQ(regions[3].type, RegionType::kReserved);
  EXPECT_EQ(regions[3].range(), (Range{0xfd00000000, 0xffffffffff}));
  EXPECT_EQ(regions[3].provenance.at(0).origin, Origin::kDriver);
}

TEST(AmdRegions, HtHoleSkippedOnlyFrom616WithHtRangeIgnore) {
  IommuUnit unit = amd_unit();
  unit.registers["efr2"] = kHtIgnore;
  EXPECT_EQ(device_regions(unit, pci(0x020000), k612).size(), 2u);
  EXPECT_EQ(device_regions(unit, pci(0x020000), k615).size(), 2u);
  EXPECT_EQ(device_regions(unit, pci(0x020000), k616).size(), 1u);
  EXPECT_EQ(device_regions(unit, pci(0x020000), k618).size(), 1u);
  unit.registers["efr2"] = ~kHtIgnore;  // every other EFR2 bit
  EXPECT_EQ(device_regions(unit, pci(0x020000), k618).size(), 2u);
  unit.registers.erase("efr2");  // unknown: keep the hole
  EXPECT_EQ(device_regions(unit, pci(0x020000), k618).size(), 2u);
}

TEST(AmdDomain, V1AndV2PerVersion) {
  IommuUnit unit = amd_unit();
  for (KernelVersion k : {k510, k61, k612, k618})
    EXPECT_EQ(paging_aperture(unit, k)->range, Range::all());
  EXPECT_EQ(*page_sizes(unit, k510), 0xffffff7ffffff000u);
  EXPECT_EQ(*page_sizes(unit, k61), 0xffffff7ffffff000u);
  EXPECT_EQ(*page_sizes(unit, k612), 0x000fff7ffffff000u);
  EXPECT_EQ(*page_sizes(unit, k618), 0x000fff7ffffff000u);

  // amd_iommu=pgtbl_v2 without GT/GIoSup (QEMU's 0x29d3 has GT but not GIoSup): v1.
  unit.settings["pgtbl-v2"] = 1;
  EXPECT_EQ(paging_aperture(unit, k612)->range, Range::all());
  EXPECT_EQ(*page_sizes(unit, k612), 0x000fff7ffffff000u);
  // With both: v2 tables, 4 levels.
  unit.registers["efr"] = 0x29d3 | kGt | kGioSup;
  EXPECT_EQ(paging_aperture(unit, k510)->range, Range::all());  // no v2 in 5.10
  EXPECT_EQ(*page_sizes(unit, k510), 0xffffff7ffffff000u);
  EXPECT_EQ(paging_aperture(unit, k61)->range, (Range{0, 0xffffffffffff}));
  EXPECT_EQ(paging_aperture(unit, k612)->range, (Range{0, 0x7fffffffffff}));
  EXPECT_EQ(*page_sizes(unit, k61), 0x40201000u);
  EXPECT_EQ(*page_sizes(unit, k612), 0x40201000u);
  // v2 requested, EFR unknown: cannot tell.
  unit.registers.erase("efr");
  EXPECT_EQ(paging_aperture(unit, k612).error().code, ENODATA);
  EXPECT_EQ(page_sizes(unit, k612).error().code, ENODATA);
}

TEST(AmdDomain, V1DepthFromHatsFrom617) {
  IommuUnit unit = amd_unit();
  const uint64_t no_hats = unit.reg("efr").value() & ~(uint64_t{3} << 10);
  const KernelVersion k617{6, 17};
  struct Case {
    uint64_t hats;
    Range want;
  };
  for (const Case& c : {Case{0, Range{0, 0xffffffffffff}}, Case{1, Range{0, 0x1ffffffffffffff}},
                        Case{2, Range::all()}}) {
    unit.registers["efr"] = no_hats | (c.hats << 10);
    EXPECT_EQ(paging_aperture(unit, k616)->range, Range::all()) << c.hats;
    EXPECT_EQ(paging_aperture(unit, k617)->range, c.want) << c.hats;
    EXPECT_EQ(paging_aperture(unit, k618)->range, c.want) << c.hats;
    EXPECT_EQ(*page_sizes(unit, k618), 0x000fff7ffffff000u);
  }
  // HATS = 3: host (v1) translation disabled; v2 if the unit has it, else none.
  unit.registers["efr"] = no_hats | (uint64_t{3} << 10);
  EXPECT_EQ(paging_aperture(unit, k616)->range, Range::all());
  EXPECT_EQ(paging_aperture(unit, k617).error().code, ENODEV);
  unit.registers["efr"] = *unit.reg("efr") | kGt | kGioSup;
  EXPECT_EQ(paging_aperture(unit, k617)->range, (Range{0, 0x7fffffffffff}));
  EXPECT_EQ(*page_sizes(unit, k617), 0x40201000u);
  // From 6.17 the v1 aperture needs EFR; before, it does not.
  unit.registers.erase("efr");
  EXPECT_EQ(paging_aperture(unit, k612)->range, Range::all());
  EXPECT_EQ(paging_aperture(unit, k617).error().code, ENODATA);
}

// The early EFR: what early_amd_iommu_init sees from the IVRS, through the fact's parser.
Result<std::optional<uint64_t>> early_efr(const std::string& ivrs) {
  IommuUnit unit = amd_unit();
  for (const detail::UnitFact& f : detail::driver_of(unit).facts())
    if (f.key == "early-efr") return f.parse_sysfs(ivrs, "IVRS", k618);
  return make_error(ENOENT, "no early-efr fact");
}

// An IVRS with IVinfo `ivinfo` and one IVHD of `type` carrying EFR image `efr`, checksummed.
std::string ivrs(uint32_t ivinfo, uint8_t type, uint64_t efr) {
  std::string t(48, '\0');
  t.replace(0, 4, "IVRS");
  for (int i = 0; i < 4; ++i) t[36 + i] = static_cast<char>(ivinfo >> (8 * i));
  std::string ivhd(type == 0x10 ? 24 : 40, '\0');
  ivhd[0] = static_cast<char>(type);
  ivhd[2] = static_cast<char>(ivhd.size());
  ivhd[4] = 0x10;  // device id 00:02.0
  if (type != 0x10)
    for (int i = 0; i < 8; ++i) ivhd[24 + i] = static_cast<char>(efr >> (8 * i));
  t += ivhd;
  t[4] = static_cast<char>(t.size());
  uint8_t sum = 0;
  for (char c : t) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(c));
  t[9] = static_cast<char>(-sum);
  return t;
}

TEST(AmdEarlyEfr, IvrsGivesTheImageOnlyWithEfrSupAndType11hOr40h) {
  EXPECT_EQ(early_efr(ivrs(1, 0x11, 0x29d3)).value(), 0x29d3u);
  EXPECT_EQ(early_efr(ivrs(1, 0x40, 0x29d3)).value(), 0x29d3u);
  EXPECT_EQ(early_efr(ivrs(0, 0x11, 0x29d3)).value(), 0u);  // IVinfo EFRSup clear
  EXPECT_EQ(early_efr(ivrs(1, 0x10, 0)).value(), 0u);       // IVHD 10h has no image
  // QEMU 7.2's IVRS (IVinfo 0x2800, one IVHD 10h), as the lab captured it.
  std::string qemu = ivrs(0x2800, 0x10, 0);
  EXPECT_EQ(early_efr(qemu).value(), 0u);
  // Hostile tables: short, past the end, a zero-length entry, a bad checksum.
  for (std::string bad : {qemu.substr(0, 40), std::string("IVRX") + qemu.substr(4)}) {
    EXPECT_EQ(early_efr(bad).error().code, EINVAL);
  }
  std::string zero = qemu;
  zero[50] = zero[51] = 0;
  EXPECT_EQ(early_efr(zero).error().code, EINVAL);
  std::string past = qemu;
  past[4] = static_cast<char>(past.size() + 8);
  EXPECT_EQ(early_efr(past).error().code, EINVAL);
  std::string sum = qemu;
  sum[9] = static_cast<char>(sum[9] + 1);
  EXPECT_EQ(early_efr(sum).error().code, EINVAL);
}

// From 7.2 a non-zero IVinfo VASize caps the v1 VA width: aperture and page sizes narrow to
// it (VASize 39 on a 4-level table gives the 3-level page sizes), before 7.2 it is ignored,
// and 0 means no limit. The fact comes from the IVRS (bits 21:15 of IVinfo).
TEST(AmdDomain, IvinfoVaSizeCapsTheV1WidthFrom72) {
  IommuUnit unit = amd_unit();
  unit.settings["early-efr"] = 0;  // 4 levels: 48 bits
  unit.settings["ivinfo-vasize"] = 39;
  EXPECT_EQ(paging_aperture(unit, k71)->range, (Range{0, 0xffffffffffff}));
  EXPECT_EQ(*page_sizes(unit, k71), 0x0000ff7ffffff000u);
  EXPECT_EQ(paging_aperture(unit, k72)->range, (Range{0, 0x7fffffffff}));
  EXPECT_EQ(*page_sizes(unit, k72), 0x0000003ffffff000u);
  EXPECT_EQ(*page_sizes(unit, k73), detail::amd_generic_v1_page_sizes(3, k73));
  // A VASize above the table's width changes nothing; 0 is no limit.
  for (uint64_t v : {0u, 52u, 64u}) {
    unit.settings["ivinfo-vasize"] = v;
    EXPECT_EQ(paging_aperture(unit, k73)->range, (Range{0, 0xffffffffffff})) << v;
    EXPECT_EQ(*page_sizes(unit, k73), 0x00007f7ffffff000u) << v;
  }
  // The parser: QEMU's IVinfo 0x2800 has VASize 0; 0x00148000 has 41.
  for (const detail::UnitFact& f : detail::driver_of(unit).facts()) {
    if (f.key != "ivinfo-vasize") continue;
    EXPECT_EQ(f.parse_sysfs(ivrs(0x2800, 0x10, 0), "IVRS", k73).value(), 0u);
    EXPECT_EQ(f.parse_sysfs(ivrs(0x00148000, 0x10, 0), "IVRS", k73).value(), 41u);
    EXPECT_EQ(f.parse_sysfs("IVRS", "IVRS", k73).error().code, EINVAL);
  }
}

// Lab: Debian 6.18 and 7.3 under QEMU 7.2 (sysfs EFR 0x29d3, HATS 2; IVRS without an EFR
// image) answer [0, 2^48 - 1]: HATS is taken from the IVRS's EFR (0) at early init.
TEST(AmdDomain, V1DepthFollowsTheIvrsEfrFrom617) {
  IommuUnit unit = amd_unit();
  unit.settings["early-efr"] = 0;
  EXPECT_EQ(paging_aperture(unit, k616)->range, Range::all());
  EXPECT_EQ(paging_aperture(unit, k618)->range, (Range{0, 0xffffffffffff}));
  EXPECT_EQ(*page_sizes(unit, k618), 0x000fff7ffffff000u);
  // An image with HATS 1: 5 levels, whatever the registers say.
  unit.settings["early-efr"] = uint64_t{1} << 10;
  EXPECT_EQ(paging_aperture(unit, k618)->range, (Range{0, 0x1ffffffffffffff}));
  // The IVRS decides the v2 fallback too: registers with GT and GIoSup, image without.
  unit.registers["efr"] = 0x29d3 | kGt | kGioSup;
  unit.settings["pgtbl-v2"] = 1;
  unit.settings["early-efr"] = 0;
  EXPECT_EQ(paging_aperture(unit, k618)->range, (Range{0, 0xffffffffffff}));
  EXPECT_EQ(*page_sizes(unit, k618), 0x000fff7ffffff000u);
  // The registers unknown, the IVRS known: enough from 6.17.
  unit.registers.erase("efr");
  unit.settings["pgtbl-v2"] = 0;
  EXPECT_EQ(paging_aperture(unit, k618)->range, (Range{0, 0xffffffffffff}));
}

// The generic page table's v1 sizes (6.19+), per level count: every size an entry of a level
// below the VA width can map (up to 256 entries of it, below 2^52), never 512 GiB; from 7.2
// only sizes below half the VA space. Hand values for each depth, before and after 7.2.
TEST(AmdGenericPageTable, V1PageSizesPerLevelCount) {
  struct Case {
    unsigned levels;
    uint64_t before_72;  // 6.19 to 7.1
    uint64_t from_72;
  };
  for (const Case& c : {Case{3, 0x0000007ffffff000, 0x0000003ffffff000},     // 39-bit VA
                        Case{4, 0x0000ff7ffffff000, 0x00007f7ffffff000},     // 48-bit VA
                        Case{5, 0x000fff7ffffff000, 0x000fff7ffffff000},     // 57-bit VA
                        Case{6, 0x000fff7ffffff000, 0x000fff7ffffff000}}) {  // 64-bit VA
    EXPECT_EQ(detail::amd_generic_v1_page_sizes(c.levels, k619), c.before_72) << c.levels;
    EXPECT_EQ(detail::amd_generic_v1_page_sizes(c.levels, k71), c.before_72) << c.levels;
    EXPECT_EQ(detail::amd_generic_v1_page_sizes(c.levels, k72), c.from_72) << c.levels;
    EXPECT_EQ(detail::amd_generic_v1_page_sizes(c.levels, k73), c.from_72) << c.levels;
  }
}

// The same rule size by size: 2^b is offered when some level L (0 to 4; the top of a 6-level
// table has no leaves) whose entries (2^(12 + 9L)) are smaller than the VA space can map it as
// 1 to 256 entries, b is not 39 and below 52, and from 7.2 below half the VA space.
TEST(AmdGenericPageTable, EachSizeAgainstTheLevels) {
  for (unsigned levels = 3; levels <= 6; ++levels) {
    const unsigned va_bits = std::min(64u, 9 * levels + 12);
    for (KernelVersion k : {k619, k72}) {
      const uint64_t got = detail::amd_generic_v1_page_sizes(levels, k);
      for (unsigned b = 0; b < 64; ++b) {
        bool some_level = false;
        for (unsigned level = 0; level <= 4; ++level) {
          const unsigned entry = 12 + 9 * level;
          some_level = some_level || (entry < va_bits && b >= entry && b <= entry + 8);
        }
        const bool want = some_level && b != 39 && b < 52 && (k < k72 || b + 1 < va_bits);
        EXPECT_EQ(((got >> b) & 1) != 0, want)
            << levels << " levels, kernel " << k.to_string() << ", 2^" << b;
      }
    }
  }
}

// Through the driver: the depth as the model derives it (EFR HATS from the IVRS image), the
// generic sizes from 6.19, io_pgtable's before. Lab: Debian 7.3.4 under QEMU 7.2 (IVRS without
// an EFR image: 4 levels) reports 0x7f7ffffff000; 6.18.15 reports 0xfff7ffffff000.
TEST(AmdDomain, V1PageSizesFollowTheGenericPageTableFrom619) {
  IommuUnit unit = amd_unit();
  unit.settings["early-efr"] = 0;  // HATS 0: 4 levels
  EXPECT_EQ(*page_sizes(unit, k618), 0x000fff7ffffff000u);
  EXPECT_EQ(*page_sizes(unit, k619), 0x0000ff7ffffff000u);
  EXPECT_EQ(*page_sizes(unit, k71), 0x0000ff7ffffff000u);
  EXPECT_EQ(*page_sizes(unit, k72), 0x00007f7ffffff000u);
  EXPECT_EQ(*page_sizes(unit, k73), 0x00007f7ffffff000u);
  EXPECT_EQ(paging_aperture(unit, k73)->range, (Range{0, 0xffffffffffff}));
  for (uint64_t hats : {1, 2}) {  // 5 and 6 levels: the 6.12 bitmap again
    unit.settings["early-efr"] = hats << 10;
    for (KernelVersion k : {k618, k619, k73})
      EXPECT_EQ(*page_sizes(unit, k), 0x000fff7ffffff000u) << hats << " " << k.to_string();
  }
  // v2 tables keep 4 KiB, 2 MiB, 1 GiB.
  unit.registers["efr"] = 0x29d3 | kGt | kGioSup;
  unit.settings["early-efr"] = 0x29d3 | kGt | kGioSup;
  unit.settings["pgtbl-v2"] = 1;
  EXPECT_EQ(*page_sizes(unit, k73), 0x40201000u);
}

}  // namespace
}  // namespace iovamap
