// Policies over small hand-built hosts. The regions the drivers add come from the driver model
// (iommu_driver.h); these tests check what the policies do with them.
#include "iovamap/policy.h"

#include <gtest/gtest.h>

#include "iovamap/dma_limit.h"

namespace iovamap {
namespace {

Host intel_host(unsigned bits, KernelVersion kernel = {6, 12}) {
  Host host;
  host.kernel = kernel;
  host.iommus.push_back(IommuUnit{.name = "dmar0", .driver = "intel", .address_bits = bits});
  return host;
}

Device nic(std::string name, std::string driver, std::optional<unsigned> mask_bits) {
  return Device{.name = std::move(name),
                .class_code = 0x020000,
                .driver = std::move(driver),
                .dma_mask_bits = mask_bits,
                .iommu = "dmar0"};
}

std::string sysfs(const Host& host, uint32_t group, Policy policy) {
  Result<GroupModel> m = model_group(host, *host.find_group(group), policy);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  return m.ok() ? m->regions.to_sysfs() : "";
}

constexpr const char* kMsiLine = "0x00000000fee00000 0x00000000feefffff msi\n";

TEST(Policy, KernelIsTheDriverRegions) {
  Host host = intel_host(39);
  host.groups.push_back(
      Group{.id = 7, .type = "DMA-FQ", .devices = {nic("0000:01:00.0", "vfio-pci", 32)}});
  EXPECT_EQ(sysfs(host, 7, Policy::kKernel), kMsiLine);
}

// The RFC on a 39-bit Intel IOMMU with a device whose mask is the 32-bit PCI default: the
// aperture region comes first, the dma_mask region last; both end at 2^64-1, so without the
// overflow fix they show as two overlapping lines, and with it they merge.
TEST(Policy, RfcShowsOverlappingLinesAndRfcFixedMerges) {
  Host host = intel_host(39);
  host.groups.push_back(
      Group{.id = 7, .type = "DMA", .devices = {nic("0000:01:00.0", "vfio-pci", 32)}});
  EXPECT_EQ(sysfs(host, 7, Policy::kRfc), std::string(kMsiLine) +
                                              "0x0000000100000000 0xffffffffffffffff reserved\n"
                                              "0x0000008000000000 0xffffffffffffffff reserved\n");
  EXPECT_EQ(sysfs(host, 7, Policy::kRfcFixed),
            std::string(kMsiLine) + "0x0000000100000000 0xffffffffffffffff reserved\n");
}

TEST(Policy, RfcDeviceOrderPutsApertureBeforeDriverRegionsAndMaskAfter) {
  Host host = intel_host(39);
  Group g{.id = 1, .type = "DMA", .devices = {nic("0000:01:00.0", "e1000e", 40)}};
  host.groups.push_back(g);
  auto regions = device_regions_for(host, g, g.devices[0], Policy::kRfc);
  ASSERT_TRUE(regions.ok());
  ASSERT_EQ(regions->size(), 3u);
  EXPECT_EQ((*regions)[0].range(), (Range{0x8000000000, kMaxAddress}));
  EXPECT_EQ((*regions)[1].type, RegionType::kMsi);
  EXPECT_EQ((*regions)[2].range(), (Range{0x10000000000, kMaxAddress}));
}

TEST(Policy, RfcAddsNoApertureRegionsWithoutADomain) {
  Host host = intel_host(39);
  host.groups.push_back(
      Group{.id = 7, .type = "unknown", .devices = {nic("0000:01:00.0", "", 32)}});
  EXPECT_EQ(sysfs(host, 7, Policy::kRfc),
            std::string(kMsiLine) + "0x0000000100000000 0xffffffffffffffff reserved\n");
}

TEST(Policy, RfcWithUnreadableGeometryReturnsNothing) {
  Host host;
  host.kernel = {6, 12};
  host.iommus.push_back(IommuUnit{.name = "dmar0", .driver = "intel"});  // no cap
  host.groups.push_back(
      Group{.id = 7, .type = "DMA", .devices = {nic("0000:01:00.0", "vfio-pci", 32)}});
  EXPECT_EQ(sysfs(host, 7, Policy::kRfc), "");
  EXPECT_EQ(sysfs(host, 7, Policy::kKernel), kMsiLine);
}

// Neither an all-ones mask nor a missing one adds a region. Each device brings its own copy of
// the aperture region; the second copy sorts before the first, and the first, ending at
// 2^64-1, is then not merged (the overflow quirk): two identical lines, one with the fix.
TEST(Policy, RfcSkipsAllOnesAndMissingMasks) {
  Host host = intel_host(48);
  host.groups.push_back(
      Group{.id = 3,
            .type = "DMA",
            .devices = {nic("0000:01:00.0", "nvme", 64), nic("0000:01:00.1", "", std::nullopt)}});
  const std::string top = "0x0001000000000000 0xffffffffffffffff reserved\n";
  EXPECT_EQ(sysfs(host, 3, Policy::kRfc), kMsiLine + top + top);
  EXPECT_EQ(sysfs(host, 3, Policy::kRfcFixed), kMsiLine + top);
  host.groups[0].devices.pop_back();
  EXPECT_EQ(sysfs(host, 3, Policy::kRfc), kMsiLine + top);
}

// effective: the aperture and trustworthy limits only. A stale dma_mask_bits under vfio-pci
// is not a limit; a declared one is, and the merged region keeps both provenances.
TEST(Policy, EffectiveUsesTrustworthyLimitsOnly) {
  Host host = intel_host(39);
  host.groups.push_back(
      Group{.id = 7, .type = "DMA", .devices = {nic("0000:01:00.0", "vfio-pci", 32)}});
  EXPECT_EQ(sysfs(host, 7, Policy::kEffective),
            std::string(kMsiLine) + "0x0000008000000000 0xffffffffffffffff reserved\n");

  host.groups[0].devices[0].declared_dma_bits = 36;
  Result<GroupModel> m = model_group(host, host.groups[0], Policy::kEffective);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->regions.to_sysfs(),
            std::string(kMsiLine) + "0x0000001000000000 0xffffffffffffffff reserved\n");
  const ReservedRegion& top = m->regions.regions().back();
  // The limit's region sorts first and absorbs the aperture's: both reasons are kept.
  ASSERT_EQ(top.provenance.size(), 2u);
  EXPECT_EQ(top.provenance[0].origin, Origin::kDmaLimit);
  EXPECT_NE(top.provenance[0].detail.find("0000:01:00.0: 36-bit DMA (declared"), std::string::npos);
  EXPECT_EQ(top.provenance[1].origin, Origin::kAperture);
}

TEST(Policy, EffectiveIgnoresKernelDriverMaskForVfio) {
  Host host = intel_host(48);
  host.groups.push_back(
      Group{.id = 2, .type = "DMA", .devices = {nic("0000:02:00.0", "nvme", 40)}});
  EXPECT_EQ(sysfs(host, 2, Policy::kEffective),
            std::string(kMsiLine) + "0x0001000000000000 0xffffffffffffffff reserved\n");
}

// Since 5.19 the kernel stops at the first device without IOMMU ops; 5.10 walks them all.
TEST(Policy, GroupWalkStopsAtDeviceWithoutIommuOnNewKernels) {
  for (KernelVersion kernel : {KernelVersion{5, 10}, KernelVersion{6, 1}}) {
    Host host = intel_host(39, kernel);
    Device bare = nic("0000:00:1f.0", "", 32);
    bare.has_iommu = false;
    Device rmrr = nic("0000:00:1f.2", "", 32);
    rmrr.firmware_regions.push_back(
        ReservedRegion::make({0xbf800000, 0xbfffffff}, RegionType::kDirect));
    host.groups.push_back(Group{.id = 6, .type = "DMA", .devices = {bare, rmrr}});
    std::string got = sysfs(host, 6, Policy::kKernel);
    if (kernel == KernelVersion{5, 10}) {
      EXPECT_EQ(got, "0x00000000bf800000 0x00000000bfffffff direct\n" + std::string(kMsiLine));
    } else {
      EXPECT_EQ(got, "");
    }
  }
}

TEST(Policy, DanglingIommuNameIsAnError) {
  Host host = intel_host(39);
  Device d = nic("0000:01:00.0", "vfio-pci", 32);
  d.iommu = "dmar9";
  host.groups.push_back(Group{.id = 1, .devices = {d}});
  Result<GroupModel> m = model_group(host, host.groups[0], Policy::kKernel);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("dmar9"), std::string::npos);
}

TEST(Policy, ExplainObservedKeepsWhatTheModelLacks) {
  Host host = intel_host(39);
  Group g{.id = 4, .type = "DMA", .devices = {nic("0000:00:02.0", "i915", 39)}};
  g.observed_regions = std::vector<ReservedRegion>{
      ReservedRegion::make({0x7b800000, 0x7fffffff}, RegionType::kDirect),
      ReservedRegion::make({0xfee00000, 0xfeefffff}, RegionType::kMsi)};
  host.groups.push_back(g);
  EXPECT_EQ(sysfs(host, 4, Policy::kKernel), kMsiLine);
  auto messages = explain_observed_regions(host);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].group_id, 4u);
  EXPECT_EQ(messages[0].message.rfind("group 4: 1 observed region(s)", 0), 0u)
      << messages[0].message;
  EXPECT_EQ(sysfs(host, 4, Policy::kKernel),
            "0x000000007b800000 0x000000007fffffff direct\n" + std::string(kMsiLine));
  EXPECT_TRUE(explain_observed_regions(host).empty());  // nothing left to explain
}

TEST(Policy, Names) {
  EXPECT_EQ(*parse_policy("rfc-fixed"), Policy::kRfcFixed);
  EXPECT_FALSE(parse_policy("RFC").ok());
}

TEST(DmaLimit, Precedence) {
  Device d{.name = "0000:03:00.0",
           .vendor = 0x168c,
           .device_id = 0x003e,
           .class_code = 0x028000,
           .driver = "vfio-pci",
           .dma_mask_bits = 64};
  DmaLimit l = dma_limit(d);
  EXPECT_EQ(l.source, DmaLimitSource::kKnownDevice);
  EXPECT_EQ(l.bits, 32u);
  EXPECT_EQ(l.stale_hint_bits, 64u);
  EXPECT_EQ(l.limit_address(), 0xffffffffu);
  d.declared_dma_bits = 36;
  EXPECT_EQ(dma_limit(d).source, DmaLimitSource::kDeclared);

  Device plain{.name = "0000:04:00.0",
               .vendor = 0x8086,
               .device_id = 0x100e,
               .driver = "",
               .dma_mask_bits = 32};
  l = dma_limit(plain);
  EXPECT_EQ(l.source, DmaLimitSource::kUnknown);
  EXPECT_FALSE(l.bits.has_value());
  EXPECT_EQ(l.stale_hint_bits, 32u);
  EXPECT_EQ(l.limit_address(), kMaxAddress);
  EXPECT_FALSE(dma_limit_region(plain, l).has_value());

  plain.driver = "e1000";
  l = dma_limit(plain);
  EXPECT_EQ(l.source, DmaLimitSource::kKernelDriver);
  EXPECT_FALSE(l.applies_to_vfio);
  EXPECT_FALSE(l.stale_hint_bits.has_value());
  EXPECT_FALSE(dma_limit_region(plain, l).has_value());
}

TEST(DmaLimit, PassthroughDrivers) {
  EXPECT_TRUE(is_passthrough_driver("vfio-pci"));
  EXPECT_TRUE(is_passthrough_driver("mlx5_vfio_pci"));
  EXPECT_TRUE(is_passthrough_driver(""));
  EXPECT_FALSE(is_passthrough_driver("nvme"));
}

}  // namespace
}  // namespace iovamap
