// The driver model against real kernels: sysfs register files in, the kernel's own answers
// (reserved_regions, VFIO IOVA ranges, iova_pgsizes) out, byte-exact. Data: tests/data/drivers.
#include "iovamap/iommu_driver.h"

#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "iovamap/range_set.h"

namespace iovamap {
namespace {

constexpr KernelVersion k510{5, 10};
constexpr KernelVersion k61{6, 1};
constexpr KernelVersion k612{6, 12};

std::string read_data(const std::string& relative) {
  const std::string path = std::string(IOVAMAP_TEST_DATA) + "/drivers/" + relative;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing test data " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "0x%016llx\n" as the lab writes iova_pgsizes.
std::string pgsizes_line(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%016" PRIx64 "\n", v);
  return buf;
}

// What VFIO type1 shows for a single group: the aperture minus every region but
// direct-relaxable, one "0x%016llx 0x%016llx" line per range (the containers engineer models
// the trimming details; for one group the set difference is exact).
std::string vfio_ranges(const Aperture& aperture, const std::vector<ReservedRegion>& regions) {
  RangeSet usable{aperture.range};
  for (const ReservedRegion& r : regions)
    if (r.type != RegionType::kDirectRelaxable) usable.remove(r.range());
  std::string out;
  for (const Range& r : usable) out += to_sysfs_string(r) + "\n";
  return out;
}

// The group's reserved_regions: each device's driver regions inserted in group order.
std::vector<ReservedRegion> group_regions(const IommuUnit& unit, const std::vector<Device>& devices,
                                          KernelVersion kernel) {
  RegionList list;
  for (const Device& d : devices) list.insert_all(device_regions(unit, d, kernel));
  return list.regions();
}

Device pci(const std::string& name, uint32_t class_code) {
  Device d;
  d.name = name;
  d.class_code = class_code;
  return d;
}

// The ISA-bridge group of the QEMU q35 machine: 00:1f.0 LPC/ISA, 1f.2 SATA, 1f.3 SMBus.
std::vector<Device> isa_group() {
  return {pci("0000:00:1f.0", 0x060100), pci("0000:00:1f.2", 0x010601),
          pci("0000:00:1f.3", 0x0c0500)};
}
std::vector<Device> e1000e_group() {
  return {pci("0000:01:00.0", 0x020000)};
}

IommuUnit intel_unit_from(const std::string& dir) {
  IommuUnit unit;
  unit.name = "dmar0";
  unit.driver = "intel";
  unit.registers["cap"] = *parse_intel_register(read_data(dir + "/cap"), dir + "/cap");
  unit.registers["ecap"] = *parse_intel_register(read_data(dir + "/ecap"), dir + "/ecap");
  return unit;
}

TEST(DriverGolden, Intel39On612) {
  const IommuUnit unit = intel_unit_from("6.12-intel39");
  EXPECT_EQ(*unit.reg("cap"), 0xd2008c22260206u);
  Result<Aperture> ap = paging_aperture(unit, k612);
  ASSERT_TRUE(ap) << ap.error().message;
  EXPECT_EQ(ap->range, (Range{0, 0x7fffffffff}));
  EXPECT_EQ(ap->provenance.origin, Origin::kAperture);
  EXPECT_EQ(ap->provenance.detail, "dmar0: cap MGAW 39 bits, agaw 39 (second-stage)");
  for (const char* group : {"e1000e", "isa"}) {
    SCOPED_TRACE(group);
    const auto devices = std::string(group) == "isa" ? isa_group() : e1000e_group();
    const auto regions = group_regions(unit, devices, k612);
    EXPECT_EQ(to_sysfs(regions), read_data(std::string("6.12-intel39/reserved_regions.") + group));
    EXPECT_EQ(vfio_ranges(*ap, regions),
              read_data(std::string("6.12-intel39/vfio_ranges.") + group));
    EXPECT_EQ(pgsizes_line(*page_sizes(unit, k612)),
              read_data(std::string("6.12-intel39/iova_pgsizes.") + group));
  }
}

TEST(DriverGolden, Intel48On612) {
  const IommuUnit unit = intel_unit_from("6.12-intel48");
  Result<Aperture> ap = paging_aperture(unit, k612);
  ASSERT_TRUE(ap) << ap.error().message;
  EXPECT_EQ(ap->range, (Range{0, 0xffffffffffff}));
  EXPECT_EQ(ap->provenance.detail, "dmar0: cap MGAW 48 bits, agaw 48 (second-stage)");
  const auto e1000e = group_regions(unit, e1000e_group(), k612);
  EXPECT_EQ(to_sysfs(e1000e), read_data("6.12-intel48/reserved_regions.e1000e"));
  EXPECT_EQ(vfio_ranges(*ap, e1000e), read_data("6.12-intel48/vfio_ranges.e1000e"));
  EXPECT_EQ(pgsizes_line(*page_sizes(unit, k612)), read_data("6.12-intel48/iova_pgsizes.e1000e"));
  EXPECT_EQ(to_sysfs(group_regions(unit, isa_group(), k612)),
            read_data("6.12-intel48/reserved_regions.isa"));
}

TEST(DriverGolden, IntelOn61SameAnswers) {
  // lab.md: the e1000e group gave the same ranges and 0x40201000 on 6.1 and 6.12.
  for (const char* dir : {"6.12-intel39", "6.12-intel48"}) {
    const IommuUnit unit = intel_unit_from(dir);
    EXPECT_EQ(paging_aperture(unit, k61)->range, paging_aperture(unit, k612)->range);
    EXPECT_EQ(*page_sizes(unit, k61), 0x40201000u);
  }
}

IommuUnit amd_unit_from(const std::string& dir, KernelVersion kernel) {
  IommuUnit unit;
  unit.name = "ivhd0";
  unit.driver = "amd";
  unit.registers["cap"] = *parse_amd_cap(read_data(dir + "/cap"), dir + "/cap");
  Result<AmdFeatures> f =
      parse_amd_features(read_data(dir + "/features"), dir + "/features", kernel);
  EXPECT_TRUE(f) << f.error().message;
  unit.registers["efr"] = f->efr;
  if (f->efr2) unit.registers["efr2"] = *f->efr2;
  return unit;
}

TEST(DriverGolden, AmdOn612) {
  const IommuUnit unit = amd_unit_from("6.12-amd", k612);
  EXPECT_EQ(*unit.reg("cap"), 0x1f03000fu);
  EXPECT_EQ(*unit.reg("efr"), 0x29d3u);  // "29d3:0" is EFR:EFR2 on 6.12
  EXPECT_EQ(*unit.reg("efr2"), 0u);
  Result<Aperture> ap = paging_aperture(unit, k612);
  ASSERT_TRUE(ap) << ap.error().message;
  EXPECT_EQ(ap->range, Range::all());
  const auto e1000e = group_regions(unit, e1000e_group(), k612);
  EXPECT_EQ(to_sysfs(e1000e), read_data("6.12-amd/reserved_regions.e1000e"));
  EXPECT_EQ(vfio_ranges(*ap, e1000e), read_data("6.12-amd/vfio_ranges.e1000e"));
  EXPECT_EQ(pgsizes_line(*page_sizes(unit, k612)), read_data("6.12-amd/iova_pgsizes.e1000e"));
  // No floppy workaround on AMD: the ISA group has the same two regions.
  EXPECT_EQ(to_sysfs(group_regions(unit, isa_group(), k612)),
            read_data("6.12-amd/reserved_regions.isa"));
}

TEST(DriverGolden, AmdOn61) {
  // lab.md: same ranges on 6.1, iova_pgsizes 0xffffff7ffffff000.
  IommuUnit unit = amd_unit_from("6.12-amd", k612);
  EXPECT_EQ(paging_aperture(unit, k61)->range, Range::all());
  EXPECT_EQ(*page_sizes(unit, k61), 0xffffff7ffffff000u);
  EXPECT_EQ(*page_sizes(unit, k510), 0xffffff7ffffff000u);
  EXPECT_EQ(*page_sizes(unit, k612), 0x000fff7ffffff000u);
}

TEST(DriverGolden, VirtioOn612) {
  // QEMU's virtio-iommu reports the x86 MSI window in its PROBE answer, so the driver adds no
  // SW_MSI window; input_range and page_size_mask come from the device (declared here).
  IommuUnit unit{.name = "0000:00:01.0", .driver = "virtio"};
  Device e1000e = pci("0000:01:00.0", 0x020000);
  e1000e.firmware_regions.push_back(
      ReservedRegion::make(Range{0xfee00000, 0xfeefffff}, RegionType::kMsi));
  Result<Aperture> ap = paging_aperture(unit, k612);
  ASSERT_TRUE(ap);
  EXPECT_EQ(ap->range, Range::all());
  const auto regions = group_regions(unit, {e1000e}, k612);
  EXPECT_EQ(to_sysfs(regions), read_data("6.12-virtio/reserved_regions.e1000e"));
  EXPECT_EQ(vfio_ranges(*ap, regions), read_data("6.12-virtio/vfio_ranges.e1000e"));
  EXPECT_EQ(page_sizes(unit, k612).error().code, ENODATA);
  unit.page_sizes = 0xfffffffffffff000u;
  EXPECT_EQ(pgsizes_line(*page_sizes(unit, k612)), read_data("6.12-virtio/iova_pgsizes.e1000e"));
}

// The same machines on Debian's 6.1.0 kernel (lab captures): the 6.1 features file is
// "EFR2:EFR" ("0:29d3"), the AMD page sizes are the pre-52-bit ones.
TEST(DriverGolden, IntelAndAmdOn61) {
  for (const char* dir : {"6.1-intel39", "6.1-intel48"}) {
    SCOPED_TRACE(dir);
    const IommuUnit unit = intel_unit_from(dir);
    Result<Aperture> ap = paging_aperture(unit, k61);
    ASSERT_TRUE(ap) << ap.error().message;
    const auto e1000e = group_regions(unit, e1000e_group(), k61);
    EXPECT_EQ(to_sysfs(e1000e), read_data(std::string(dir) + "/reserved_regions.e1000e"));
    EXPECT_EQ(vfio_ranges(*ap, e1000e), read_data(std::string(dir) + "/vfio_ranges.e1000e"));
    EXPECT_EQ(pgsizes_line(*page_sizes(unit, k61)),
              read_data(std::string(dir) + "/iova_pgsizes.e1000e"));
    EXPECT_EQ(to_sysfs(group_regions(unit, isa_group(), k61)),
              read_data(std::string(dir) + "/reserved_regions.isa"));
  }
  const IommuUnit amd = amd_unit_from("6.1-amd", k61);
  EXPECT_EQ(*amd.reg("efr"), 0x29d3u);
  EXPECT_EQ(*amd.reg("efr2"), 0u);
  Result<Aperture> ap = paging_aperture(amd, k61);
  ASSERT_TRUE(ap) << ap.error().message;
  const auto e1000e = group_regions(amd, e1000e_group(), k61);
  EXPECT_EQ(to_sysfs(e1000e), read_data("6.1-amd/reserved_regions.e1000e"));
  EXPECT_EQ(vfio_ranges(*ap, e1000e), read_data("6.1-amd/vfio_ranges.e1000e"));
  EXPECT_EQ(pgsizes_line(*page_sizes(amd, k61)), read_data("6.1-amd/iova_pgsizes.e1000e"));
  EXPECT_EQ(to_sysfs(group_regions(amd, isa_group(), k61)),
            read_data("6.1-amd/reserved_regions.isa"));
}

// QEMU's SMMUv3 on arm64 (lab captures, device tree on 6.1, ACPI/IORT on 6.12): the stage-1
// aperture is 48 bits on both, although Debian's 6.12 arm64 kernel has VA_BITS 52.
TEST(DriverGolden, SmmuV3On61And612) {
  struct Case {
    const char* dir;
    KernelVersion kernel;
    unsigned cpu_va_bits;
  };
  for (const Case& c : {Case{"6.1-smmuv3dt", k61, 48}, Case{"6.12-smmuv3acpi", k612, 52}}) {
    SCOPED_TRACE(c.dir);
    for (bool declared : {false, true}) {
      IommuUnit unit{.name = "smmu3.0x0000000009050000", .driver = "arm-smmu-v3"};
      if (declared) unit.settings["cpu-va-bits"] = c.cpu_va_bits;
      Result<Aperture> ap = paging_aperture(unit, c.kernel);
      ASSERT_TRUE(ap) << ap.error().message;
      const auto regions = group_regions(unit, {pci("0000:01:00.0", 0x020000)}, c.kernel);
      const std::string dir = c.dir;
      EXPECT_EQ(to_sysfs(regions), read_data(dir + "/reserved_regions.nic"));
      EXPECT_EQ(vfio_ranges(*ap, regions), read_data(dir + "/vfio_ranges.nic"));
      EXPECT_EQ(pgsizes_line(*page_sizes(unit, c.kernel)), read_data(dir + "/iova_pgsizes.nic"));
    }
  }
}

// ---- virtio-iommu, ARM SMMU, generic, declared values ---------------------------------------

ReservedRegion fw(uint64_t first, uint64_t last, RegionType type) {
  return ReservedRegion::make(Range{first, last}, type);
}

std::vector<Range> ranges_of(const std::vector<ReservedRegion>& regions) {
  std::vector<Range> out;
  for (const ReservedRegion& r : regions) out.push_back(r.range());
  return out;
}

TEST(VirtioRegions, ProbeOrderSortedFrom517ReversedBefore) {
  const IommuUnit unit{.name = "viommu", .driver = "virtio"};
  Device d = pci("0000:00:02.0", 0x020000);
  // Two regions start at 0x1000, the MSI one probed first: equal starts keep probe order
  // (viommu_add_resv_mem inserts before the first later start), whatever their types.
  d.firmware_regions = {
      fw(0x3000, 0x3fff, RegionType::kReserved), fw(0x1000, 0x17ff, RegionType::kMsi),
      fw(0xfee00000, 0xfeefffff, RegionType::kMsi), fw(0x1000, 0x1fff, RegionType::kReserved)};
  EXPECT_EQ(ranges_of(device_regions(unit, d, KernelVersion{6, 1})),
            (std::vector<Range>{
                {0x1000, 0x17ff}, {0x1000, 0x1fff}, {0x3000, 0x3fff}, {0xfee00000, 0xfeefffff}}));
  EXPECT_EQ(ranges_of(device_regions(unit, d, KernelVersion{5, 17})),
            ranges_of(device_regions(unit, d, KernelVersion{6, 1})));
  // Before 5.17 each was added at the head: reverse probe order.
  EXPECT_EQ(ranges_of(device_regions(unit, d, KernelVersion{5, 16})),
            (std::vector<Range>{
                {0x1000, 0x1fff}, {0xfee00000, 0xfeefffff}, {0x1000, 0x17ff}, {0x3000, 0x3fff}}));
}

TEST(VirtioRegions, SwMsiOnlyWhenNoMsiWasProbed) {
  const IommuUnit unit{.name = "viommu", .driver = "virtio"};
  Device d = pci("0000:00:02.0", 0x020000);
  // Nothing probed: SW_MSI alone (the arm64 virtio-iommu case).
  auto regions = device_regions(unit, d, k612);
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_EQ(regions[0].type, RegionType::kSwMsi);
  EXPECT_EQ(regions[0].range(), (Range{0x8000000, 0x80fffff}));
  EXPECT_EQ(regions[0].provenance.at(0).origin, Origin::kDriver);
  // A reserved region only: it, then SW_MSI after it.
  d.firmware_regions = {fw(0x9000000, 0x90fffff, RegionType::kReserved)};
  regions = device_regions(unit, d, k612);
  ASSERT_EQ(regions.size(), 2u);
  EXPECT_EQ(regions[0].type, RegionType::kReserved);
  EXPECT_EQ(regions[0].provenance.at(0).origin, Origin::kFirmware);
  EXPECT_EQ(regions[1].type, RegionType::kSwMsi);
  // An MSI region probed: no SW_MSI.
  d.firmware_regions.push_back(fw(0xfee00000, 0xfeefffff, RegionType::kMsi));
  regions = device_regions(unit, d, k510);
  ASSERT_EQ(regions.size(), 2u);
  EXPECT_EQ(regions[0].type, RegionType::kMsi);  // reversed on 5.10
  EXPECT_EQ(regions[1].type, RegionType::kReserved);
}

TEST(ArmRegions, SwMsiFirstThenFirmwareAsTyped) {
  for (const char* driver : {"arm-smmu-v3", "arm-smmu"}) {
    const IommuUnit unit{.name = "smmu", .driver = driver};
    Device d = pci("0000:00:02.0", 0x020000);
    d.firmware_regions = {fw(0x80000000, 0x800fffff, RegionType::kDirect),
                          fw(0x8080000, 0x808ffff, RegionType::kMsi)};
    const auto regions = device_regions(unit, d, k612);
    ASSERT_EQ(regions.size(), 3u);
    EXPECT_EQ(regions[0].type, RegionType::kSwMsi);
    EXPECT_EQ(regions[0].range(), (Range{0x8000000, 0x80fffff}));
    EXPECT_EQ(regions[1].type, RegionType::kDirect);
    EXPECT_EQ(regions[2].type, RegionType::kMsi);
    EXPECT_EQ(*page_sizes(unit, k612), 0x40201000u);
  }
}

TEST(ArmAperture, SmmuV3Stage1InputBits) {
  IommuUnit unit{.name = "smmu3.0x0000000009050000", .driver = "arm-smmu-v3"};
  // Nothing known: 48 bits (no VAX, VA_BITS >= 48), said so.
  Result<Aperture> ap = paging_aperture(unit, k612);
  ASSERT_TRUE(ap);
  EXPECT_EQ(ap->range, (Range{0, 0xffffffffffff}));
  EXPECT_NE(ap->provenance.detail.find("defaults assumed"), std::string::npos);
  // VAX with 52-bit VA: still 48 with the 4 KiB granule (io-pgtable cap).
  unit.settings["smmu-va-bits"] = 52;
  unit.settings["cpu-va-bits"] = 52;
  EXPECT_EQ(paging_aperture(unit, k612)->range, (Range{0, 0xffffffffffff}));
  // A 39-bit VA kernel caps stage 1.
  unit.settings["cpu-va-bits"] = 39;
  EXPECT_EQ(paging_aperture(unit, k612)->range, (Range{0, 0x7fffffffff}));
  unit.settings["cpu-va-bits"] = 0;
  EXPECT_EQ(paging_aperture(unit, k612).error().code, EINVAL);
}

TEST(ArmAperture, SmmuV2NeedsVaSizeAndTtbr1MovesTheAperture) {
  IommuUnit unit{.name = "arm-smmu.0", .driver = "arm-smmu"};
  EXPECT_EQ(paging_aperture(unit, k612).error().code, ENODATA);
  unit.settings["smmu-va-bits"] = 48;
  EXPECT_EQ(paging_aperture(unit, k612)->range, (Range{0, 0xffffffffffff}));
  // The Adreno TTBR1 quirk: the upper half, aperture_start = ~0 << ias.
  unit.settings["ttbr1"] = 1;
  EXPECT_EQ(paging_aperture(unit, k612)->range, (Range{0xffff000000000000, kMaxAddress}));
  unit.settings["smmu-va-bits"] = 36;
  EXPECT_EQ(paging_aperture(unit, k612)->range, (Range{0xfffffff000000000, kMaxAddress}));
}

TEST(GenericDriver, FirmwareRegionsOnlyAndNothingDerived) {
  const IommuUnit unit{.name = "x", .driver = "generic"};
  Device d = pci("0000:00:02.0", 0x020000);
  EXPECT_TRUE(device_regions(unit, d, k612).empty());
  d.firmware_regions = {fw(0, 0xfff, RegionType::kReserved)};
  EXPECT_EQ(device_regions(unit, d, k612).at(0).type, RegionType::kReserved);
  EXPECT_EQ(paging_aperture(unit, k612).error().code, ENODATA);
  EXPECT_EQ(page_sizes(unit, k612).error().code, ENODATA);
}

TEST(DeclaredValues, WinOverDerivation) {
  IommuUnit unit{.name = "dmar0", .driver = "intel", .registers = {{"cap", 0xd2008c22260206}}};
  unit.address_bits = 64;
  EXPECT_EQ(paging_aperture(unit, k612)->range, Range::all());
  unit.address_bits = 1;
  EXPECT_EQ(paging_aperture(unit, k612)->range, (Range{0, 1}));
  for (unsigned bad : {0u, 65u}) {
    unit.address_bits = bad;
    EXPECT_EQ(paging_aperture(unit, k612).error().code, EINVAL);
  }
  unit.aperture = Range{0x1000, 0xfffff};  // wins over address_bits
  Result<Aperture> ap = paging_aperture(unit, k612);
  EXPECT_EQ(ap->range, (Range{0x1000, 0xfffff}));
  EXPECT_EQ(ap->provenance.origin, Origin::kAperture);
  unit.aperture = Range{2, 1};
  EXPECT_EQ(paging_aperture(unit, k612).error().code, EINVAL);
  unit.page_sizes = 0x1000;
  EXPECT_EQ(*page_sizes(unit, k612), 0x1000u);
  unit.page_sizes = 0;
  EXPECT_EQ(page_sizes(unit, k612).error().code, EINVAL);
}

}  // namespace
}  // namespace iovamap
