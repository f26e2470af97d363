// Firmware table entries matched to devices as the kernel matches them: DMAR RMRR scopes
// (paths through bridges, the bridge rule, the broken-RMRR fallback, segments, scope type
// mismatches, list order), IVRS IVMDs (21h/22h/20h with last_bdf, exclusion ranges, page
// alignment, segments) and IORT RMR nodes (stream ids through the root complex, the SMMU the
// mapping names, the boot-configuration condition, ignored nodes, 64 KiB alignment), each case
// failing when its rule is broken; then a real lab snapshot
// with tables carrying an RMRR / IVMD and the kernel's reserved_regions, whose regions must
// all be derived (none observed).
#include "iovamap/firmware_match.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "acpi_test_tables.h"
#include "iovamap/host_loader.h"
#include "iovamap/policy.h"
#include "test_tree.h"

namespace iovamap {
namespace {

namespace fs = std::filesystem;

// ---- DMAR --------------------------------------------------------------------------------

struct Scope {
  uint8_t type = 1;
  uint8_t bus = 0;
  std::vector<std::pair<uint8_t, uint8_t>> path;
};

void add_scopes(AcpiTableBuilder& b, const std::vector<Scope>& scopes) {
  for (const Scope& s : scopes) {
    b.u8(s.type).u8(6 + 2 * s.path.size()).u16(0).u8(0).u8(s.bus);
    for (auto [d, f] : s.path) b.u8(d).u8(f);
  }
}

size_t scopes_size(const std::vector<Scope>& scopes) {
  size_t n = 0;
  for (const Scope& s : scopes) n += 6 + 2 * s.path.size();
  return n;
}

struct Rmrr {
  uint16_t segment = 0;
  uint64_t base = 0;
  uint64_t end = 0;
  std::vector<Scope> scopes;
};

Dmar make_dmar(const std::vector<Rmrr>& rmrrs, const std::vector<Scope>& drhd_scopes = {}) {
  AcpiTableBuilder b("DMAR", 1);
  b.u8(38).u8(1).zeros(10);
  // One DRHD; include-all unless it has scopes.
  b.u16(0).u16(16 + scopes_size(drhd_scopes)).u8(drhd_scopes.empty() ? 1 : 0).u8(0).u16(0);
  b.u64(0xfed90000);
  add_scopes(b, drhd_scopes);
  for (const Rmrr& r : rmrrs) {
    b.u16(1).u16(24 + scopes_size(r.scopes)).u16(0).u16(r.segment).u64(r.base).u64(r.end);
    add_scopes(b, r.scopes);
  }
  Result<Dmar> dmar = parse_dmar(b.finish());
  if (!dmar) ADD_FAILURE() << dmar.error().message;
  return dmar ? *dmar : Dmar{};
}

Device pci(std::string path, uint32_t class_code = 0x020000) {
  Device d;
  d.sysfs_path = "sys/devices/" + path;
  d.name = path.substr(path.rfind('/') + 1);
  d.class_code = class_code;
  d.driver = "vfio-pci";
  return d;
}

Host intel_host(std::vector<Device> devices, const std::string& driver = "intel") {
  Host host;
  host.kernel = KernelVersion{6, 12};
  host.iommus.push_back(IommuUnit{.name = "dmar0", .driver = driver});
  uint32_t id = 0;
  for (Device& d : devices) {
    d.iommu = "dmar0";
    host.groups.push_back(Group{.id = id++, .type = "DMA", .devices = {d}});
  }
  return host;
}

const Device& dev(const Host& host, uint32_t group) {
  return host.groups[group].devices[0];
}

std::vector<std::string> details(const Device& d) {
  std::vector<std::string> out;
  for (const ReservedRegion& r : d.firmware_regions) {
    EXPECT_EQ(r.provenance.size(), 1u);
    EXPECT_EQ(r.provenance[0].origin, Origin::kFirmware);
    out.push_back(r.provenance[0].detail);
  }
  return out;
}

using Strings = std::vector<std::string>;

TEST(FirmwareMatchIntel, EndpointScopeNamesItsDeviceOnly) {
  Host host =
      intel_host({pci("pci0000:00/0000:00:14.0", 0x0c0330), pci("pci0000:00/0000:00:15.0")});
  host.firmware.dmar = make_dmar({{0, 0x7b800000, 0x7fffffff, {{1, 0, {{0x14, 0}}}}}});
  EXPECT_TRUE(match_firmware_regions(host).empty());
  ASSERT_EQ(details(dev(host, 0)), Strings{"DMAR RMRR 0, scope 00:14.0"});
  EXPECT_EQ(dev(host, 0).firmware_regions[0].range(), (Range{0x7b800000, 0x7fffffff}));
  EXPECT_TRUE(dev(host, 1).firmware_regions.empty());
  // The driver types it: a USB controller's RMRR is relaxable (device_rmrr_is_relaxable).
  Result<std::vector<ReservedRegion>> regions =
      device_regions_for(host, host.groups[0], dev(host, 0), Policy::kKernel);
  ASSERT_TRUE(regions);
  EXPECT_EQ((*regions)[0].type, RegionType::kDirectRelaxable);
  EXPECT_EQ((*regions)[0].provenance[0].detail, "DMAR RMRR 0, scope 00:14.0");
}

TEST(FirmwareMatchIntel, BridgeScopeCoversTheDevicesBelowIt) {
  Host host = intel_host({pci("pci0000:00/0000:00:1c.0/0000:01:00.0"),
                          pci("pci0000:00/0000:00:1c.0/0000:01:00.0/0000:02:03.0"),
                          pci("pci0000:00/0000:00:1d.0/0000:03:00.0")});
  host.firmware.dmar = make_dmar({{0, 0xa0000000, 0xa00fffff, {{2, 0, {{0x1c, 0}}}}}});
  match_firmware_regions(host);
  EXPECT_EQ(details(dev(host, 0)),
            Strings{"DMAR RMRR 0, scope 00:1c.0 (bridge 0000:00:1c.0 above the device)"});
  EXPECT_EQ(details(dev(host, 1)),
            Strings{"DMAR RMRR 0, scope 00:1c.0 (bridge 0000:00:1c.0 above the device)"});
  EXPECT_TRUE(dev(host, 2).firmware_regions.empty());
  // Typed by the device, not the bridge: an Ethernet function's is direct.
  Result<std::vector<ReservedRegion>> regions =
      device_regions_for(host, host.groups[0], dev(host, 0), Policy::kKernel);
  ASSERT_TRUE(regions);
  EXPECT_EQ((*regions)[0].type, RegionType::kDirect);
}

TEST(FirmwareMatchIntel, MultiStepPathFollowsTheChainNotBusNumbers) {
  // bus 00 path 1c.0/00.0: the function 00.0 below the bridge 00:1c.0, whatever its bus number.
  Host host = intel_host({pci("pci0000:00/0000:00:1c.0/0000:05:00.0"),
                          pci("pci0000:00/0000:00:1d.0/0000:06:00.0"),
                          pci("pci0000:80/0000:80:1c.0/0000:81:00.0")});
  host.firmware.dmar = make_dmar({{0, 0x1000, 0x1fff, {{1, 0, {{0x1c, 0}, {0, 0}}}}}});
  match_firmware_regions(host);
  EXPECT_EQ(details(dev(host, 0)), Strings{"DMAR RMRR 0, scope bus 00 path 1c.0/00.0"});
  EXPECT_TRUE(dev(host, 1).firmware_regions.empty());
  EXPECT_TRUE(dev(host, 2).firmware_regions.empty());  // root bus 80, not 00
}

TEST(FirmwareMatchIntel, OneStepScopeOnTheDevicesOwnBusIsTheKernelsWorkaround) {
  // "bus 05 path 00.0" names no function on a root bus 05; the kernel's fallback takes the
  // function whose own bus and devfn it names.
  Host host = intel_host(
      {pci("pci0000:00/0000:00:1c.0/0000:05:00.0"), pci("pci0000:00/0000:00:1c.0/0000:05:00.1")});
  host.firmware.dmar = make_dmar({{0, 0x1000, 0x1fff, {{1, 5, {{0, 0}}}}}});
  match_firmware_regions(host);
  EXPECT_EQ(details(dev(host, 0)),
            Strings{"DMAR RMRR 0, scope 05:00.0 (the kernel's broken-RMRR workaround)"});
  EXPECT_TRUE(dev(host, 1).firmware_regions.empty());
}

TEST(FirmwareMatchIntel, OtherSegmentsAndOtherDriversGetNothing) {
  Host host = intel_host({pci("pci0001:00/0001:00:14.0"), pci("pci0000:00/0000:00:14.0")});
  host.firmware.dmar = make_dmar({{1, 0x1000, 0x1fff, {{1, 0, {{0x14, 0}}}}}});
  match_firmware_regions(host);
  EXPECT_EQ(details(dev(host, 0)), Strings{"DMAR RMRR 0, scope 00:14.0"});
  EXPECT_TRUE(dev(host, 1).firmware_regions.empty());

  Host amd = intel_host({pci("pci0000:00/0000:00:14.0")}, "amd");
  amd.firmware.dmar = make_dmar({{0, 0x1000, 0x1fff, {{1, 0, {{0x14, 0}}}}}});
  match_firmware_regions(amd);
  EXPECT_TRUE(dev(amd, 0).firmware_regions.empty());
}

TEST(FirmwareMatchIntel, RmrrsComeNewestFirstAndEveryMatchingSlotCounts) {
  // dmar_parse_one_rmrr adds each RMRR at the head of the list; a device and a bridge above it
  // in the same RMRR give two regions.
  Host host = intel_host({pci("pci0000:00/0000:00:1c.0/0000:01:00.0")});
  host.firmware.dmar = make_dmar({{0, 0x1000, 0x1fff, {{1, 0, {{0x1c, 0}, {0, 0}}}}},
                                  {0, 0x3000, 0x3fff, {{2, 0, {{0x1c, 0}}}, {1, 1, {{0, 0}}}}}});
  match_firmware_regions(host);
  EXPECT_EQ(details(dev(host, 0)),
            (Strings{"DMAR RMRR 1, scope 00:1c.0 (bridge 0000:00:1c.0 above the device)",
                     "DMAR RMRR 1, scope 01:00.0 (the kernel's broken-RMRR workaround)",
                     "DMAR RMRR 0, scope bus 00 path 1c.0/00.0"}));
}

TEST(FirmwareMatchIntel, ScopeTypeMismatchStopsTheKernelsWalk) {
  // The bridge 00:1c.0 in a group of its own. RMRR 1 (first in the kernel's list) names it with
  // an endpoint scope: -EINVAL, and the walk over the RMRRs ends, so RMRR 0's bridge scope is
  // never recorded for it, nor for the function below it.
  Host host = intel_host(
      {pci("pci0000:00/0000:00:1c.0", 0x060400), pci("pci0000:00/0000:00:1c.0/0000:01:00.0")});
  host.firmware.dmar = make_dmar(
      {{0, 0x1000, 0x1fff, {{2, 0, {{0x1c, 0}}}}}, {0, 0x3000, 0x3fff, {{1, 0, {{0x1c, 0}}}}}});
  match_firmware_regions(host);
  EXPECT_TRUE(dev(host, 0).firmware_regions.empty());
  EXPECT_TRUE(dev(host, 1).firmware_regions.empty());

  // A bridge scope naming a normal-header function (not of the bridge class) is refused too.
  Host nic = intel_host({pci("pci0000:00/0000:00:14.0")});
  nic.firmware.dmar = make_dmar({{0, 0x1000, 0x1fff, {{2, 0, {{0x14, 0}}}}}});
  match_firmware_regions(nic);
  EXPECT_TRUE(dev(nic, 0).firmware_regions.empty());
  // ... unless it is of the bridge class (an NTB, 0x0680).
  Host ntb = intel_host({pci("pci0000:00/0000:00:14.0", 0x068000)});
  ntb.firmware.dmar = make_dmar({{0, 0x1000, 0x1fff, {{2, 0, {{0x14, 0}}}}}});
  match_firmware_regions(ntb);
  EXPECT_EQ(details(dev(ntb, 0)), Strings{"DMAR RMRR 0, scope 00:14.0"});
}

TEST(FirmwareMatchIntel, DrhdScopeMismatchSkipsEveryRmrr) {
  // dmar_pci_bus_add_dev: a DRHD scope naming the device with the wrong type fails before the
  // RMRRs are looked at.
  Rmrr rmrr{0, 0x1000, 0x1fff, {{1, 0, {{0x14, 0}}}}};
  Host host = intel_host({pci("pci0000:00/0000:00:14.0")});
  host.firmware.dmar = make_dmar({rmrr}, {{2, 0, {{0x14, 0}}}});
  match_firmware_regions(host);
  EXPECT_TRUE(dev(host, 0).firmware_regions.empty());
  Host fine = intel_host({pci("pci0000:00/0000:00:14.0")});
  fine.firmware.dmar = make_dmar({rmrr}, {{1, 0, {{0x14, 0}}}});
  match_firmware_regions(fine);
  EXPECT_EQ(details(dev(fine, 0)), Strings{"DMAR RMRR 0, scope 00:14.0"});
}

TEST(FirmwareMatchIntel, InsaneRmrrIsUsedAndSaysSo) {
  Host host = intel_host({pci("pci0000:00/0000:00:14.0")});
  host.firmware.dmar = make_dmar({{0, 0x1001, 0x1ffe, {{1, 0, {{0x14, 0}}}}}});
  match_firmware_regions(host);
  ASSERT_EQ(dev(host, 0).firmware_regions.size(), 1u);
  EXPECT_EQ(dev(host, 0).firmware_regions[0].range(), (Range{0x1001, 0x1ffe}));
  EXPECT_EQ(details(dev(host, 0)),
            Strings{"DMAR RMRR 0, scope 00:14.0 (fails the kernel's RMRR sanity check; used "
                    "anyway)"});
}

// ---- IVRS --------------------------------------------------------------------------------

struct Ivmd {
  uint8_t type;
  uint8_t flags;
  uint16_t devid;
  uint16_t aux;
  uint64_t start;
  uint64_t length;
  uint16_t segment = 0;
};

// One IVHD 10h on segment 0 whose select entries end at `last_select`, then the IVMDs.
Ivrs make_ivrs(const std::vector<Ivmd>& ivmds, uint16_t last_select = 0x00f8) {
  AcpiTableBuilder b("IVRS", 2);
  b.u32(0x2800).zeros(8);
  b.u8(0x10).u8(0).u16(24 + 8).u16(0x0002).u16(0x40).u64(0xfeb80000);
  b.u16(0).u16(0).u32(0);
  b.u8(0x02).u16(0x0000).u8(0);
  b.u8(0x02).u16(last_select).u8(0);
  for (const Ivmd& m : ivmds) {
    b.u8(m.type).u8(m.flags).u16(32).u16(m.devid).u16(m.aux).u16(m.segment).zeros(6);
    b.u64(m.start).u64(m.length);
  }
  Result<Ivrs> ivrs = parse_ivrs(b.finish());
  if (!ivrs) ADD_FAILURE() << ivrs.error().message;
  return ivrs ? *ivrs : Ivrs{};
}

TEST(FirmwareMatchAmd, DeviceAndRangeEntriesMatchTheDeviceId) {
  Host host = intel_host({pci("pci0000:00/0000:00:14.0"), pci("pci0000:00/0000:00:15.7"),
                          pci("pci0000:00/0000:00:16.0")},
                         "amd");
  host.firmware.ivrs = make_ivrs({{0x21, 0x07, 0x00a0, 0, 0x1000000, 0x1000},
                                  {0x22, 0x01, 0x00a0, 0x00af, 0x2000000, 0x2000},
                                  {0x21, 0x07, 0x00a0, 0, 0x3000000, 0x1000, /*segment=*/1}});
  EXPECT_TRUE(match_firmware_regions(host).empty());
  EXPECT_EQ(
      details(dev(host, 0)),
      (Strings{"IVRS IVMD 21h entry 0, device 00:14.0 (unity map)",
               "IVRS IVMD 22h entry 1, devices 00:14.0-00:15.7 (unity map), device 00:14.0"}));
  EXPECT_EQ(dev(host, 0).firmware_regions[0].range(), (Range{0x1000000, 0x1000fff}));
  EXPECT_EQ(dev(host, 0).firmware_regions[1].range(), (Range{0x2000000, 0x2001fff}));
  EXPECT_EQ(details(dev(host, 1)),
            Strings{"IVRS IVMD 22h entry 1, devices 00:14.0-00:15.7 (unity map), device 00:15.7"});
  EXPECT_TRUE(dev(host, 2).firmware_regions.empty());
}

TEST(FirmwareMatchAmd, AllEntryEndsAtTheSegmentsLastBdf) {
  // 20h covers [0, last_bdf]: the highest id the IVHD's select entries name (00:1f.0 here).
  Host host = intel_host({pci("pci0000:00/0000:00:02.0"), pci("pci0000:00/0000:00:1f.0"),
                          pci("pci0000:00/0000:00:03.0/0000:01:00.0")},
                         "amd");
  host.firmware.ivrs = make_ivrs({{0x20, 0x01, 0, 0, 0xa0000, 0x20000}});
  match_firmware_regions(host);
  EXPECT_EQ(details(dev(host, 0)),
            Strings{"IVRS IVMD 20h entry 0, devices 00:00.0-ff:1f.7 (unity map), device 00:02.0"});
  EXPECT_EQ(dev(host, 1).firmware_regions.size(), 1u);
  EXPECT_TRUE(dev(host, 2).firmware_regions.empty());
  // An "all" device entry makes last_bdf ffff.
  host.firmware.ivrs = make_ivrs({{0x20, 0x01, 0, 0, 0xa0000, 0x20000}}, 0xffff);
  for (Group& g : host.groups) g.devices[0].firmware_regions.clear();
  match_firmware_regions(host);
  EXPECT_EQ(dev(host, 2).firmware_regions.size(), 1u);
}

TEST(FirmwareMatchAmd, ExclusionRangesAreDirectAndPagesAlignSeparately) {
  Host host = intel_host({pci("pci0000:00/0000:00:14.0")}, "amd");
  // Start 0x1001 rounds up to 0x2000 and the length 0x1000 stays one page: [0x2000, 0x2fff]
  // (not [0x1000, 0x2fff]); exclusion-only flags still make a region; read/write alone none.
  host.firmware.ivrs =
      make_ivrs({{0x21, 0x08, 0x00a0, 0, 0x1001, 0x1000}, {0x21, 0x06, 0x00a0, 0, 0x5000, 0x1000}});
  match_firmware_regions(host);
  ASSERT_EQ(details(dev(host, 0)),
            Strings{"IVRS IVMD 21h entry 0, device 00:14.0 (exclusion range, mapped 1:1 by the "
                    "kernel)"});
  EXPECT_EQ(dev(host, 0).firmware_regions[0].range(), (Range{0x2000, 0x2fff}));
  Result<std::vector<ReservedRegion>> regions =
      device_regions_for(host, host.groups[0], dev(host, 0), Policy::kKernel);
  ASSERT_TRUE(regions);
  EXPECT_EQ((*regions)[0].type, RegionType::kDirect);
}

TEST(FirmwareMatchAmd, EmptyIvmdIsANoteNotARegion) {
  Host host = intel_host({pci("pci0000:00/0000:00:14.0")}, "amd");
  host.firmware.ivrs = make_ivrs({{0x21, 0x01, 0x00a0, 0, 0x1000, 0}});
  std::vector<FirmwareMatchNote> notes = match_firmware_regions(host);
  EXPECT_TRUE(dev(host, 0).firmware_regions.empty());
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].group_id, 0u);
}

// ---- IORT RMR ------------------------------------------------------------------------------

struct RmrMap {
  uint32_t base = 0;   // output base: the first stream id
  uint32_t count = 0;  // ids minus one
  uint32_t reference = 0;
};
struct RmrNode {
  uint32_t flags = 0;  // bit 0: remapping permitted
  std::vector<RmrMap> maps;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // base, length
  bool zero_mapping_offset = false;
};

constexpr uint32_t kItsAt = 48, kSmmuAt = 72, kOtherSmmuAt = 220;  // the root complex is at 160

// ITS group, SMMUv3 -> ITS, root complex (segment 0: requester id = stream id) -> SMMU, a second
// SMMUv3 nothing maps to, then `rmrs`.
Iort make_iort(const std::vector<RmrNode>& rmrs, uint8_t revision = 5) {
  AcpiTableBuilder b("IORT", revision);
  b.u32(4 + rmrs.size()).u32(48).u32(0);
  b.u8(0).u16(24).u8(1).u32(0).u32(0).u32(0).u32(1).u32(7);  // ITS group, ITS id 7
  b.u8(4).u16(88).u8(4).u32(1).u32(1).u32(68);               // SMMUv3
  b.u64(0x9050000).u32(1).u32(0).u64(0).u32(0).zeros(16).u32(0).u32(0);
  b.u32(0).u32(0xffff).u32(0).u32(kItsAt).u32(0);
  b.u8(2).u16(60).u8(4).u32(2).u32(1).u32(40);  // root complex
  b.u64(0).u32(1).u32(0).u8(48).u16(0).u8(0).u32(0);
  b.u32(0).u32(0xffff).u32(0).u32(kSmmuAt).u32(0);
  b.u8(4).u16(68).u8(4).u32(3).u32(0).u32(0);  // another SMMUv3
  b.u64(0x9060000).u32(1).u32(0).u64(0).u32(0).zeros(16).u32(0).u32(0);
  uint32_t id = 4;
  for (const RmrNode& r : rmrs) {
    const uint32_t maps = static_cast<uint32_t>(r.maps.size());
    const uint32_t length = 28 + 20 * maps + 20 * static_cast<uint32_t>(r.ranges.size());
    b.u8(6).u16(length).u8(3).u32(id++).u32(maps).u32(r.zero_mapping_offset ? 0 : 28);
    b.u32(r.flags).u32(r.ranges.size()).u32(r.ranges.empty() ? 0 : 28 + 20 * maps);
    for (const RmrMap& m : r.maps) b.u32(0x1000).u32(m.count).u32(m.base).u32(m.reference).u32(0);
    for (auto [base, size] : r.ranges) b.u64(base).u64(size).u32(0);
  }
  Result<Iort> iort = parse_iort(b.finish());
  if (!iort) ADD_FAILURE() << iort.error().message;
  return iort ? *iort : Iort{};
}

// 00:01.0 (stream 0x8), 00:02.0 (0x10), 00:03.0 (0x18), each in its own group behind the SMMU.
Host smmu_host(const std::string& driver = "arm-smmu-v3") {
  Host host;
  host.kernel = KernelVersion{6, 12};
  host.iommus.push_back(IommuUnit{.name = "smmu3.0x0000000009050000", .driver = driver});
  uint32_t id = 0;
  for (const char* name : {"0000:00:01.0", "0000:00:02.0", "0000:00:03.0"}) {
    Device d = pci(std::string("pci0000:00/") + name);
    d.iommu = host.iommus[0].name;
    host.groups.push_back(Group{.id = id++, .type = "DMA", .devices = {d}});
  }
  return host;
}

const FirmwareMatchOptions kPreserved{.pci_boot_config_preserved = true};

TEST(FirmwareMatchIort, RmrRangesReachTheDevicesWhoseStreamTheyCover) {
  Host host = smmu_host();
  host.firmware.iort = make_iort({
      {1, {{0x8, 0, kSmmuAt}}, {{0x80000000, 0x10000}, {0x80100000, 0x20000}}},  // relaxable
      {0, {{0x0, 0x0f, kOtherSmmuAt}, {0x10, 0x7, kSmmuAt}}, {{0x90000000, 0x10000}}},
      {0, {{0x18, 0, kItsAt}}, {{0xa0000000, 0x10000}}},  // names no SMMU
  });
  EXPECT_TRUE(match_firmware_regions(host, kPreserved).empty());
  EXPECT_EQ(details(dev(host, 0)), (Strings{"IORT RMR node 4 at 0x120, range 0, stream 0x8",
                                            "IORT RMR node 4 at 0x120, range 1, stream 0x8"}));
  EXPECT_EQ(dev(host, 0).firmware_regions[1].range(), (Range{0x80100000, 0x8011ffff}));
  EXPECT_EQ(dev(host, 0).firmware_regions[0].type, RegionType::kDirectRelaxable);
  // The mapping to the other SMMU does not count; the one to this SMMU does.
  EXPECT_EQ(details(dev(host, 1)), Strings{"IORT RMR node 5 at 0x178, range 0, stream 0x10"});
  EXPECT_EQ(dev(host, 1).firmware_regions[0].type, RegionType::kDirect);
  EXPECT_TRUE(dev(host, 2).firmware_regions.empty());
  // The driver model keeps the RMR's type, after its SW_MSI window.
  Result<std::vector<ReservedRegion>> regions =
      device_regions_for(host, host.groups[1], dev(host, 1), Policy::kKernel);
  ASSERT_TRUE(regions);
  ASSERT_EQ(regions->size(), 2u);
  EXPECT_EQ((*regions)[1].type, RegionType::kDirect);
  EXPECT_EQ((*regions)[1].range(), (Range{0x90000000, 0x9000ffff}));
}

TEST(FirmwareMatchIort, PciDevicesNeedTheBootConfigurationPreserved) {
  const std::vector<RmrNode> rmrs{{0, {{0x8, 0x10, kSmmuAt}}, {{0x80000000, 0x10000}}}};
  Host unknown = smmu_host();
  unknown.firmware.iort = make_iort(rmrs);
  std::vector<FirmwareMatchNote> notes = match_firmware_regions(unknown);
  ASSERT_EQ(notes.size(), 3u);  // streams 0x8, 0x10, 0x18: one note each, no region
  EXPECT_EQ(notes[0].group_id, 0u);
  EXPECT_NE(notes[0].message.find("IORT RMR node 4 at 0x120 covers stream 0x8 of 0000:00:01.0"),
            std::string::npos)
      << notes[0].message;
  for (const Group& g : unknown.groups) EXPECT_TRUE(g.devices[0].firmware_regions.empty());
  Host reassigned = smmu_host();
  reassigned.firmware.iort = make_iort(rmrs);
  EXPECT_TRUE(match_firmware_regions(reassigned, {.pci_boot_config_preserved = false}).empty());
  for (const Group& g : reassigned.groups) EXPECT_TRUE(g.devices[0].firmware_regions.empty());
  Host preserved = smmu_host();
  preserved.firmware.iort = make_iort(rmrs);
  EXPECT_TRUE(match_firmware_regions(preserved, kPreserved).empty());
  for (const Group& g : preserved.groups) EXPECT_EQ(g.devices[0].firmware_regions.size(), 1u);
}

TEST(FirmwareMatchIort, IgnoredNodesOtherDriversAndOldKernelsGetNothing) {
  const RmrNode covering{0, {{0x0, 0xff, kSmmuAt}}, {{0x80000000, 0x10000}}};
  RmrNode unmapped = covering;
  unmapped.zero_mapping_offset = true;
  Host host = smmu_host();
  host.firmware.iort = make_iort({unmapped, {0, {{0x0, 0xff, kSmmuAt}}, {}}});
  EXPECT_TRUE(match_firmware_regions(host, kPreserved).empty());
  for (const Group& g : host.groups) EXPECT_TRUE(g.devices[0].firmware_regions.empty());
  Host old_table = smmu_host();
  old_table.firmware.iort = make_iort({covering}, 4);  // E.c: the kernel reads no RMR
  match_firmware_regions(old_table, kPreserved);
  EXPECT_TRUE(dev(old_table, 0).firmware_regions.empty());
  Host other = smmu_host("generic");
  other.firmware.iort = make_iort({covering});
  match_firmware_regions(other, kPreserved);
  EXPECT_TRUE(dev(other, 0).firmware_regions.empty());
  Host old_kernel = smmu_host();
  old_kernel.kernel = KernelVersion{5, 15};
  old_kernel.firmware.iort = make_iort({covering});
  match_firmware_regions(old_kernel, kPreserved);
  EXPECT_TRUE(dev(old_kernel, 0).firmware_regions.empty());
  Host smmu_v2 = smmu_host("arm-smmu");
  smmu_v2.firmware.iort = make_iort({covering});
  match_firmware_regions(smmu_v2, kPreserved);
  EXPECT_EQ(dev(smmu_v2, 0).firmware_regions.size(), 1u);
}

TEST(FirmwareMatchIort, StreamRangeEndsAt32BitsAndUnalignedRangesWidenToPages) {
  Host host = smmu_host();
  host.firmware.iort = make_iort({
      // output base + id count wraps in 32 bits: the kernel's check takes no stream.
      {0, {{0x8, 0xffffffff, kSmmuAt}}, {{0x70000000, 0x10000}}},
      // Not 64 KiB aligned: the base down to its page, base offset + length up to pages.
      {0, {{0x10, 0, kSmmuAt}}, {{0x80000800, 0x1000}, {0x80101000, 0x1800}, {0x80200000, 0}}},
  });
  std::vector<FirmwareMatchNote> notes = match_firmware_regions(host, kPreserved);
  EXPECT_TRUE(dev(host, 0).firmware_regions.empty());
  ASSERT_EQ(dev(host, 1).firmware_regions.size(), 2u);
  EXPECT_EQ(dev(host, 1).firmware_regions[0].range(), (Range{0x80000000, 0x80001fff}));
  EXPECT_EQ(dev(host, 1).firmware_regions[1].range(), (Range{0x80101000, 0x80102fff}));
  EXPECT_EQ(details(dev(host, 1))[0],
            "IORT RMR node 5 at 0x164, range 0, stream 0x10 (not 64 KiB aligned: widened to "
            "4 KiB pages by the kernel)");
  ASSERT_EQ(notes.size(), 1u);  // the zero-length range
  EXPECT_NE(notes[0].message.find("range 2 is empty"), std::string::npos) << notes[0].message;
}

// ---- Lab snapshots with tables that carry entries ------------------------------------------

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_all(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

// `table` with `extra` appended, its length and checksum made right.
std::string append_to_table(std::string table, const std::string& extra) {
  table += extra;
  for (int i = 0; i < 4; ++i) table[4 + i] = static_cast<char>(table.size() >> (8 * i));
  table[9] = 0;
  uint8_t sum = 0;
  for (char c : table) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(c));
  table[9] = static_cast<char>(static_cast<uint8_t>(-sum));
  return table;
}

std::string le(uint64_t v, int width) {
  std::string out;
  for (int i = 0; i < width; ++i) out += static_cast<char>(v >> (8 * i));
  return out;
}

// Reserved regions as sysfs prints them, after the kernel's sort: the model must print the
// same with every region derived.
void expect_all_derived(const LoadedHost& loaded, uint32_t group) {
  const Group* g = loaded.host.find_group(group);
  ASSERT_NE(g, nullptr);
  Result<GroupModel> model = model_group(loaded.host, *g, Policy::kKernel);
  ASSERT_TRUE(model);
  std::string observed;
  for (const ReservedRegion& r : *g->observed_regions) {
    RegionList one;
    one.insert(r);
    observed += one.to_sysfs();
  }
  EXPECT_EQ(model->regions.to_sysfs(), observed) << "group " << group;
  for (const ReservedRegion& r : model->regions.regions())
    for (const Provenance& p : r.provenance) EXPECT_NE(p.origin, Origin::kObserved);
  for (const std::string& n : loaded.notes_for({group}))
    EXPECT_EQ(n.find("observed region"), std::string::npos) << n;
}

// A copy of the lab fixture `name`'s root in `dir`; returns its sys/.
fs::path copy_lab(const TempDir& dir, const std::string& name) {
  fs::copy(IOVAMAP_SOURCE_DIR "/tests/data/" + name + "/root", dir.path(),
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  return dir.path() / "sys";
}

TEST(FirmwareMatchLab, IntelRmrrsThroughABridgeAreDerivedNotObserved) {
  TempDir dir;
  const fs::path sys = copy_lab(dir, "lab-intel39-612");
  const fs::path dmar = sys / "firmware/acpi/tables/DMAR";
  // RMRR 0: bridge scope 00:02.0 (above 02:00.0 and 03:01.0, group 9); RMRR 1: endpoint scope
  // 00:1d.0 (the UHCI controller, group 6: relaxable).
  std::string rmrrs = le(1, 2) + le(32, 2) + le(0, 2) + le(0, 2) + le(0x80000000, 8) +
                      le(0x8fffffff, 8) + le(2, 1) + le(8, 1) + le(0, 2) + le(0, 1) + le(0, 1) +
                      le(0x02, 1) + le(0, 1);
  rmrrs += le(1, 2) + le(32, 2) + le(0, 2) + le(0, 2) + le(0x7e000000, 8) + le(0x7e0fffff, 8) +
           le(1, 1) + le(8, 1) + le(0, 2) + le(0, 1) + le(0, 1) + le(0x1d, 1) + le(0, 1);
  write_all(dmar, append_to_table(read_all(dmar), rmrrs));
  fs::path groups = sys / "kernel/iommu_groups";
  write_all(groups / "9/reserved_regions",
            "0x0000000080000000 0x000000008fffffff direct\n"
            "0x00000000fee00000 0x00000000feefffff msi\n");
  write_all(groups / "6/reserved_regions",
            "0x000000007e000000 0x000000007e0fffff direct-relaxable\n"
            "0x00000000fee00000 0x00000000feefffff msi\n");
  Result<LoadedHost> loaded =
      load_host(HostSpec{.source = HostSource::kSnapshot, .path = dir.path().string()});
  ASSERT_TRUE(loaded) << loaded.error().message;
  expect_all_derived(*loaded, 9);
  expect_all_derived(*loaded, 6);
  const Group* g9 = loaded->host.find_group(9);
  ASSERT_EQ(g9->devices.size(), 2u);
  EXPECT_EQ(details(g9->devices[1]),
            Strings{"DMAR RMRR 0, scope 00:02.0 (bridge 0000:00:02.0 above the device)"});
}

TEST(FirmwareMatchLab, AmdIvmdsAreDerivedNotObserved) {
  TempDir dir;
  const fs::path sys = copy_lab(dir, "lab-amd-612");
  const fs::path ivrs = sys / "firmware/acpi/tables/IVRS";
  // 21h unity for 00:04.0 (group 3), 22h exclusion for 02:00.0..03:01.0 (group 9).
  std::string ivmds = le(0x21, 1) + le(0x07, 1) + le(32, 2) + le(0x0020, 2) + le(0, 2) + le(0, 2) +
                      std::string(6, '\0') + le(0x9d000000, 8) + le(0x100000, 8);
  ivmds += le(0x22, 1) + le(0x08, 1) + le(32, 2) + le(0x0200, 2) + le(0x0308, 2) + le(0, 2) +
           std::string(6, '\0') + le(0xa0000000, 8) + le(0x10000, 8);
  write_all(ivrs, append_to_table(read_all(ivrs), ivmds));
  fs::path groups = sys / "kernel/iommu_groups";
  const std::string tail =
      "0x00000000fee00000 0x00000000feefffff msi\n"
      "0x000000fd00000000 0x000000ffffffffff reserved\n";
  write_all(groups / "3/reserved_regions", "0x000000009d000000 0x000000009d0fffff direct\n" + tail);
  write_all(groups / "9/reserved_regions", "0x00000000a0000000 0x00000000a000ffff direct\n" + tail);
  Result<LoadedHost> loaded =
      load_host(HostSpec{.source = HostSource::kSnapshot, .path = dir.path().string()});
  ASSERT_TRUE(loaded) << loaded.error().message;
  expect_all_derived(*loaded, 3);
  expect_all_derived(*loaded, 9);
}

// A topology file may declare the ACPI tables (docs/topology.md, [firmware]): the host loader
// reads them relative to the file and matches them as it does a live host's. Here the lab's
// real DMAR with three RMRRs (tests/data/lab-intel39rmrr-612), which the 6.12 kernel turned into
// the regions the fixture's sysfs shows.
TEST(FirmwareMatchTopology, DeclaredTablesGiveTheKernelsRegions) {
  TempDir dir;
  fs::copy_file(IOVAMAP_SOURCE_DIR
                "/tests/data/lab-intel39rmrr-612/root/sys/firmware/acpi/tables/DMAR",
                dir.path() / "DMAR.bin");
  write_all(dir.path() / "host.toml", R"(kernel = "6.12"
[firmware]
dmar = "DMAR.bin"
[[iommu]]
name = "dmar0"
driver = "intel"
intel-cap = "0xd2008c22260206"
[[group]]
id = 5
iommu = "dmar0"
[[group.device]]
bdf = "0000:00:05.0"
class = "0x00ff00"
[[group]]
id = 6
iommu = "dmar0"
[[group.device]]
bdf = "0000:00:1d.0"
class = "0x0c0300"
firmware-dma-bits = 36
)");
  Result<LoadedHost> loaded = load_host(
      HostSpec{.source = HostSource::kTopology, .path = (dir.path() / "host.toml").string()});
  ASSERT_TRUE(loaded) << loaded.error().message;
  const Group* g5 = loaded->host.find_group(5);
  const Group* g6 = loaded->host.find_group(6);
  ASSERT_TRUE(g5 && g6);
  EXPECT_EQ(details(g5->devices[0]), Strings{"DMAR RMRR 1, scope 00:05.0"});
  Result<GroupModel> m5 = model_group(loaded->host, *g5, Policy::kKernel);
  Result<GroupModel> m6 = model_group(loaded->host, *g6, Policy::kKernel);
  ASSERT_TRUE(m5 && m6);
  // The fixture's sysfs, byte for byte (its MSI window included).
  EXPECT_EQ(
      m5->regions.to_sysfs(),
      read_all(IOVAMAP_SOURCE_DIR "/tests/data/lab-intel39rmrr-612/root/sys/kernel/iommu_groups/5/"
                                  "reserved_regions"));
  EXPECT_EQ(m6->regions.to_sysfs(),
            "0x00000000bf000000 0x00000000bf0fffff direct-relaxable\n"
            "0x00000000fee00000 0x00000000feefffff msi\n");
  // The declared interconnect limit is the device's firmware limit.
  ASSERT_TRUE(g6->devices[0].firmware_dma_limit);
  EXPECT_EQ(g6->devices[0].firmware_dma_limit->last, 0xfffffffffull);
  EXPECT_NE(g6->devices[0].firmware_dma_limit->detail.find("host.toml:20: firmware-dma-bits 36"),
            std::string::npos)
      << g6->devices[0].firmware_dma_limit->detail;
}

// The same for an IORT with RMRs (the lab's smmuv3acpirmr-612 table), with the boot
// configuration the lab's patched DSDT declared: declared by the file, overridden by the
// command line's option, or unknown (then notes, no regions).
TEST(FirmwareMatchTopology, DeclaredIortRmrsFollowTheBootConfiguration) {
  TempDir dir;
  const std::string lab = IOVAMAP_SOURCE_DIR "/tests/data/lab-smmuv3acpirmr-612/root/sys/";
  fs::copy_file(lab + "firmware/acpi/tables/IORT", dir.path() / "IORT.bin");
  auto load = [&](const std::string& boot_config, std::optional<bool> option) {
    write_all(dir.path() / "host.toml",
              "kernel = \"6.12\"\n[firmware]\niort = \"IORT.bin\"\n" + boot_config + R"(
[[iommu]]
name = "smmu3.0x0000000009050000"
driver = "arm-smmu-v3"
[[group]]
id = 5
iommu = "smmu3.0x0000000009050000"
[[group.device]]
bdf = "0000:00:04.0"
[[group]]
id = 2
iommu = "smmu3.0x0000000009050000"
[[group.device]]
bdf = "0000:02:00.0"
)");
    return load_host(HostSpec{.source = HostSource::kTopology,
                              .path = (dir.path() / "host.toml").string(),
                              .pci_boot_config_preserved = option});
  };
  auto sysfs = [](const LoadedHost& h, uint32_t id) {
    Result<GroupModel> m = model_group(h.host, *h.host.find_group(id), Policy::kKernel);
    return m ? m->regions.to_sysfs() : m.error().message;
  };
  Result<LoadedHost> preserved = load("pci-boot-config = \"preserved\"", std::nullopt);
  ASSERT_TRUE(preserved) << preserved.error().message;
  // What the 6.12 kernel showed, byte for byte.
  for (uint32_t g : {5u, 2u})
    EXPECT_EQ(sysfs(*preserved, g),
              read_all(lab + "kernel/iommu_groups/" + std::to_string(g) + "/reserved_regions"))
        << "group " << g;
  EXPECT_TRUE(preserved->notes_for({5}).empty());
  // The option wins over the file; unknown gives notes instead of regions.
  for (auto [line, option] :
       {std::pair<std::string, std::optional<bool>>{"pci-boot-config = \"preserved\"", false},
        {"", std::nullopt}}) {
    Result<LoadedHost> none = load(line, option);
    ASSERT_TRUE(none) << none.error().message;
    EXPECT_TRUE(none->host.find_group(5)->devices[0].firmware_regions.empty());
    EXPECT_EQ(none->notes_for({5}).empty(), option.has_value()) << line;
  }
  Result<LoadedHost> bad = load("pci-boot-config = \"yes\"", std::nullopt);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("host.toml:4: 'pci-boot-config' must be"), std::string::npos)
      << bad.error().message;
}

TEST(FirmwareMatchTopology, BadTableFilesAreErrorsNamingTheLine) {
  TempDir dir;
  const std::string topo = (dir.path() / "host.toml").string();
  auto load = [&](const std::string& text) {
    write_all(topo, text);
    return load_host(HostSpec{.source = HostSource::kTopology, .path = topo});
  };
  // Absent.
  Result<LoadedHost> r = load("kernel = \"6.12\"\n[firmware]\nivrs = \"IVRS.bin\"\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("host.toml:3"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().code, ENOENT);
  // Not the table it claims to be: the parser's error, with the file.
  fs::copy_file(IOVAMAP_SOURCE_DIR
                "/tests/data/lab-intel39rmrr-612/root/sys/firmware/acpi/tables/DMAR",
                dir.path() / "IVRS.bin");
  r = load("[firmware]\nivrs = \"IVRS.bin\"\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("host.toml:2: "), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("IVRS.bin"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().code, EINVAL);
  // Unknown table, wrong shape.
  r = load("[firmware]\nmadt = \"APIC.bin\"\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("unknown key 'madt' in [firmware]"), std::string::npos)
      << r.error().message;
  r = load("firmware = \"DMAR.bin\"\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("'firmware' must be a table"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace iovamap
