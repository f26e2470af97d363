// Firmware bus DMA limits: IORT root complex and named component memory address size limits
// with the kernel's rules (first node of the segment, revision 0 and limit 0 ignored, 64 bits is
// none), device-tree dma-ranges walks (PCI from the host bridge's node, platform devices from
// their node's parent, empty properties passed through, a missing one ending the walk), and
// how dma_limit ranks them (above kernel-driver masks, the lower of firmware and the device's
// own binding, both shown).
#include "iovamap/firmware_dma_limit.h"

#include <gtest/gtest.h>

#include "acpi_test_tables.h"
#include "iovamap/dma_limit.h"
#include "iovamap/policy.h"

namespace iovamap {
namespace {

struct RcNode {
  uint32_t segment = 0;
  uint8_t revision = 1;
  uint8_t limit = 40;
};
struct NcNode {
  std::string name;
  uint8_t limit = 32;
};

Iort make_iort(const std::vector<RcNode>& rcs, const std::vector<NcNode>& ncs = {}) {
  AcpiTableBuilder b("IORT", 5);
  b.u32(static_cast<uint32_t>(rcs.size() + ncs.size())).u32(48).u32(0);
  uint32_t id = 0;
  for (const RcNode& rc : rcs) {
    b.u8(2).u16(40).u8(rc.revision).u32(id++).u32(0).u32(0);
    b.u64(0).u32(0).u32(rc.segment).u8(rc.limit).u16(0).u8(0).u32(0);
  }
  for (const NcNode& nc : ncs) {
    size_t name_bytes = (nc.name.size() + 1 + 3) / 4 * 4;
    b.u8(1).u16(16 + 4 + 8 + 1 + name_bytes).u8(4).u32(id++).u32(0).u32(0);
    b.u32(0).u64(0).u8(nc.limit).text(nc.name).zeros(name_bytes - nc.name.size());
  }
  Result<Iort> iort = parse_iort(b.finish());
  if (!iort) ADD_FAILURE() << iort.error().message;
  return iort ? *iort : Iort{};
}

Host host_with(std::vector<Device> devices) {
  Host host;
  host.iommus.push_back(IommuUnit{.name = "smmu3.0x0000000009050000", .driver = "arm-smmu-v3"});
  uint32_t id = 0;
  for (Device& d : devices) host.groups.push_back(Group{.id = id++, .devices = {d}});
  return host;
}

Device pci_dev(const std::string& path) {
  Device d;
  d.sysfs_path = "sys/devices/" + path;
  d.name = path.substr(path.rfind('/') + 1);
  d.class_code = 0x020000;
  d.driver = "vfio-pci";
  d.iommu = "smmu3.0x0000000009050000";
  return d;
}

Device platform_dev(const std::string& path) {
  Device d = pci_dev(path);
  d.is_pci = false;
  return d;
}

const Device& dev(const Host& h, uint32_t group) {
  return h.groups[group].devices[0];
}

void expect_limit(const Device& d, uint64_t last, const std::string& detail) {
  ASSERT_TRUE(d.firmware_dma_limit) << d.name;
  EXPECT_EQ(d.firmware_dma_limit->last, last) << d.name;
  EXPECT_EQ(d.firmware_dma_limit->detail, detail) << d.name;
}

TEST(FirmwareDmaLimitIort, RootComplexLimitBindsUnderVfio) {
  Host host = host_with({pci_dev("pci0000:00/0000:00:01.0/0000:01:00.0")});
  host.firmware.iort = make_iort({{0, 1, 40}});
  FakeSysfs f;
  EXPECT_TRUE(apply_firmware_dma_limits(host, f).empty());
  ASSERT_TRUE(dev(host, 0).firmware_dma_limit);
  EXPECT_EQ(dev(host, 0).firmware_dma_limit->last, 0xffffffffffu);
  DmaLimit l = dma_limit(dev(host, 0));
  EXPECT_EQ(l.source, DmaLimitSource::kFirmware);
  EXPECT_EQ(l.bits, 40u);
  EXPECT_FALSE(l.last);
  EXPECT_TRUE(l.applies_to_vfio);
  EXPECT_EQ(l.detail, "IORT root complex node 0 (segment 0): memory address size limit 40 bits");
  EXPECT_EQ(source_name(l.source), "firmware");
  std::optional<ReservedRegion> r = dma_limit_region(dev(host, 0), l);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->range(), (Range{uint64_t{1} << 40, kMaxAddress}));
  // The effective policy's usable space ends there.
  Result<std::vector<ReservedRegion>> regions =
      device_regions_for(host, host.groups[0], dev(host, 0), Policy::kEffective);
  ASSERT_TRUE(regions);
  EXPECT_EQ(regions->back().range().first, uint64_t{1} << 40);
}

TEST(FirmwareDmaLimitIort, IgnoredNodesAreDeclaredButLimitNothing) {
  struct Case {
    RcNode rc;
    std::string why;
  };
  for (const Case& c : {Case{{0, 0, 40},
                             "root complex node revision 0 has no memory address size "
                             "limit"},
                        Case{{0, 1, 0},
                             "memory address size limit 0 (a firmware bug the kernel "
                             "skips)"}}) {
    Host host = host_with({pci_dev("pci0000:00/0000:00:01.0")});
    host.firmware.iort = make_iort({c.rc});
    FakeSysfs f;
    std::vector<FirmwareMatchNote> notes = apply_firmware_dma_limits(host, f);
    ASSERT_TRUE(dev(host, 0).firmware_dma_limit);
    EXPECT_FALSE(dev(host, 0).firmware_dma_limit->last);
    const std::string expected =
        "IORT root complex node 0 (segment 0): declared, ignored by the "
        "kernel (" +
        c.why + ")";
    EXPECT_EQ(dev(host, 0).firmware_dma_limit->detail, expected);
    ASSERT_EQ(notes.size(), 1u);
    DmaLimit l = dma_limit(dev(host, 0));
    EXPECT_EQ(l.source, DmaLimitSource::kUnknown);
    EXPECT_EQ(l.also, std::vector<std::string>{"firmware: " + expected});
    EXPECT_FALSE(dma_limit_region(dev(host, 0), l));
  }
}

TEST(FirmwareDmaLimitIort, SixtyFourBitsIsNoLimitAndTheFirstNodeOfTheSegmentDecides) {
  Host host = host_with({pci_dev("pci0000:00/0000:00:01.0"), pci_dev("pci0001:00/0001:00:01.0"),
                         pci_dev("pci0002:00/0002:00:01.0")});
  // Segment 0: 64 bits (no limit); segment 1: a revision-0 node first, so the later 40-bit node
  // of the same segment is never read (iort_scan_node returns the first match).
  host.firmware.iort = make_iort({{0, 1, 64}, {1, 0, 40}, {1, 1, 36}});
  FakeSysfs f;
  apply_firmware_dma_limits(host, f);
  EXPECT_EQ(dev(host, 0).firmware_dma_limit->last, kMaxAddress);
  DmaLimit l0 = dma_limit(dev(host, 0));
  EXPECT_EQ(l0.source, DmaLimitSource::kUnknown);
  EXPECT_FALSE(dma_limit_region(dev(host, 0), l0));
  EXPECT_FALSE(dev(host, 1).firmware_dma_limit->last);
  EXPECT_FALSE(dev(host, 2).firmware_dma_limit);  // no root complex node for segment 2
}

TEST(FirmwareDmaLimitIort, NamedComponentMatchesTheAcpiPathOfTheDeviceOrItsParent) {
  Host host =
      host_with({platform_dev("platform/ARMH0011:00/dma0"), platform_dev("platform/OTHR0001:00")});
  host.firmware.iort = make_iort({}, {{"\\_SB_.DMA0", 32}});
  FakeSysfs f;
  f.add_file("sys/devices/platform/ARMH0011:00/firmware_node/path", "\\_SB_.DMA0\n");
  f.add_file("sys/devices/platform/OTHR0001:00/firmware_node/path", "\\_SB_.OTHR\n");
  apply_firmware_dma_limits(host, f);
  expect_limit(dev(host, 0), 0xffffffff,
               "IORT named component node 0 (\\_SB_.DMA0): memory address size limit 32 bits");
  EXPECT_FALSE(dev(host, 1).firmware_dma_limit);
}

TEST(FirmwareDmaLimitRanking, TheLowerOfFirmwareAndTheDevicesOwnBindsAndBothAreShown) {
  Device d = pci_dev("pci0000:00/0000:00:01.0");
  d.firmware_dma_limit = FirmwareDmaLimit{0xffffffffff, "IORT root complex node 0: 40 bits"};
  d.declared_dma_bits = 36;
  d.declared_dma_source = "--dma-limit 00:01.0=36";
  DmaLimit declared_lower = dma_limit(d);
  EXPECT_EQ(declared_lower.source, DmaLimitSource::kDeclared);
  EXPECT_EQ(declared_lower.bits, 36u);
  EXPECT_EQ(declared_lower.also,
            std::vector<std::string>{
                "firmware: 40-bit, IORT root complex node 0: 40 bits (not binding: higher)"});
  d.declared_dma_bits = 44;
  DmaLimit firmware_lower = dma_limit(d);
  EXPECT_EQ(firmware_lower.source, DmaLimitSource::kFirmware);
  EXPECT_EQ(firmware_lower.bits, 40u);
  EXPECT_EQ(firmware_lower.also,
            std::vector<std::string>{
                "declared: 44-bit, declared by --dma-limit 00:01.0=36 (not binding: higher)"});
  // Above a kernel driver's mask, which is shown beside it.
  Device nic = pci_dev("pci0000:00/0000:00:01.0");
  nic.driver = "e1000e";
  nic.dma_mask_bits = 64;
  nic.firmware_dma_limit = d.firmware_dma_limit;
  DmaLimit over_driver = dma_limit(nic);
  EXPECT_EQ(over_driver.source, DmaLimitSource::kFirmware);
  EXPECT_TRUE(over_driver.applies_to_vfio);
  EXPECT_EQ(
      over_driver.also,
      std::vector<std::string>{"kernel-driver: dma_mask_bits 64 set by e1000e (kernel DMA only)"});
}

// ---- Device tree ----------------------------------------------------------------------------

DtDmaRangesNode dt_node(std::string path, std::vector<DtDmaRange> ranges) {
  DtDmaRangesNode n;
  n.path = std::move(path);
  n.empty = ranges.empty();
  n.ranges = std::move(ranges);
  return n;
}

TEST(FirmwareDmaLimitDt, PciDevicesUseTheHostBridgesNodeAndWindowsNeedNotBePowersOfTwo) {
  Host host = host_with({pci_dev("platform/4010000000.pcie/pci0000:00/0000:00:01.0"),
                         pci_dev("pci0001:00/0001:00:01.0")});
  host.firmware.dma_ranges.push_back(dt_node(
      "pcie@4010000000", {{0, 0, 0, 0x80000000}, {24, 0x80000000, 0x80000000, 0x40000000}}));
  FakeSysfs f;
  f.add_link("sys/devices/platform/4010000000.pcie/of_node",
             "../../../firmware/devicetree/base/pcie@4010000000");
  apply_firmware_dma_limits(host, f);
  expect_limit(dev(host, 0), 0xbfffffff,
               "device tree pcie@4010000000 dma-ranges: bus addresses up to 0xbfffffff");
  DmaLimit l = dma_limit(dev(host, 0));
  EXPECT_EQ(l.bits, 32u);
  EXPECT_EQ(l.last, 0xbfffffffu);
  EXPECT_EQ(l.limit_address(), 0xbfffffffu);
  std::optional<ReservedRegion> r = dma_limit_region(dev(host, 0), l);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->range(), (Range{0xc0000000, kMaxAddress}));
  EXPECT_FALSE(dev(host, 1).firmware_dma_limit);  // no of_node: nothing from the tree
}

TEST(FirmwareDmaLimitDt, PlatformWalkPassesEmptyPropertiesAndStopsAtAMissingOne) {
  // dev@1 below soc (empty dma-ranges) below the root (a 1 GiB window): the walk starts at soc,
  // passes its empty property and takes the root's. dev@2 below soc/bus (no property; the first
  // node may lack it) below soc: allowed. dev@3 below soc/nobus/inner: inner lacks it (first,
  // fine), soc/nobus lacks it too: no limit, even though the root has one.
  Host host = host_with({platform_dev("platform/soc/1.dev"), platform_dev("platform/soc/2.dev"),
                         platform_dev("platform/soc/3.dev")});
  host.firmware.dma_ranges.push_back(dt_node("", {{0, 0, 0, 0x40000000}}));
  host.firmware.dma_ranges.push_back(dt_node("soc", {}));
  FakeSysfs f;
  const std::string base = "../../../../firmware/devicetree/base/";
  f.add_link("sys/devices/platform/soc/1.dev/of_node", base + "soc/dev@1");
  f.add_link("sys/devices/platform/soc/2.dev/of_node", base + "soc/bus/dev@2");
  f.add_link("sys/devices/platform/soc/3.dev/of_node", base + "soc/nobus/inner/dev@3");
  apply_firmware_dma_limits(host, f);
  expect_limit(dev(host, 0), 0x3fffffff,
               "device tree / dma-ranges: bus addresses up to 0x3fffffff");
  expect_limit(dev(host, 1), 0x3fffffff,
               "device tree / dma-ranges: bus addresses up to 0x3fffffff");
  EXPECT_FALSE(dev(host, 2).firmware_dma_limit);
}

TEST(FirmwareDmaLimitDt, RangesWithNoEntryThatCountsAreIgnored) {
  Host host = host_with({pci_dev("platform/10000000.pcie/pci0000:00/0000:00:01.0")});
  host.firmware.dma_ranges.push_back(dt_node("pcie@10000000", {{0, 0, 0, 0}}));
  FakeSysfs f;
  f.add_link("sys/devices/platform/10000000.pcie/of_node",
             "../../../firmware/devicetree/base/pcie@10000000");
  std::vector<FirmwareMatchNote> notes = apply_firmware_dma_limits(host, f);
  ASSERT_TRUE(dev(host, 0).firmware_dma_limit);
  EXPECT_FALSE(dev(host, 0).firmware_dma_limit->last);
  EXPECT_NE(dev(host, 0).firmware_dma_limit->detail.find("declared, ignored by the kernel ("),
            std::string::npos);
  EXPECT_EQ(notes.size(), 1u);
  EXPECT_EQ(dma_limit(dev(host, 0)).source, DmaLimitSource::kUnknown);
}

}  // namespace
}  // namespace iovamap
