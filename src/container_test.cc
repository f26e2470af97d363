// Containers under policies: several groups, the attach order, the errors a user sees.
#include "iovamap/container.h"

#include <gtest/gtest.h>

namespace iovamap {
namespace {

Host two_group_intel() {
  Host host;
  host.kernel = {6, 12};
  host.source = "test host";
  host.iommus.push_back(IommuUnit{.name = "dmar0", .driver = "intel", .address_bits = 39});
  host.groups.push_back(Group{.id = 7,
                              .type = "DMA",
                              .devices = {Device{.name = "0000:01:00.0",
                                                 .class_code = 0x020000,
                                                 .driver = "vfio-pci",
                                                 .dma_mask_bits = 32,
                                                 .iommu = "dmar0"}}});
  Device gpu{
      .name = "0000:02:00.0", .class_code = 0x030000, .driver = "vfio-pci", .iommu = "dmar0"};
  gpu.firmware_regions.push_back(ReservedRegion::make({0x7b800000, 0x7fffffff}, RegionType::kDirect,
                                                      {Origin::kFirmware, "RMRR"}));
  host.groups.push_back(Group{.id = 8, .type = "DMA", .devices = {gpu}});
  return host;
}

TEST(Container, TwoGroupsShareOneList) {
  Host host = two_group_intel();
  // The display device's RMRR is direct-relaxable on Intel, so VFIO does not cut it out.
  Result<Type1Model> m = model_type1(host, {7, 8}, Policy::kKernel);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(to_sysfs_lines(m->container.iova_list()),
            "0x0000000000000000 0x00000000fedfffff\n"
            "0x00000000fef00000 0x0000007fffffffff\n");
  EXPECT_EQ(m->groups.size(), 2u);
}

// A device whose RMRR stays direct is never handed to user space (assignability.h): from 6.6
// claiming its DMA fails with EINVAL, before that Intel's attach failed with EPERM. (type1's own
// cut-out of direct regions is tested in vfio_type1_test.cc.)
TEST(Container, DirectRmrrOfANonDisplayDeviceRefusesTheContainer) {
  Host host = two_group_intel();
  host.groups[1].devices[0].class_code = 0x010802;  // NVMe: the RMRR stays direct
  for (auto [kernel, code] :
       {std::pair{KernelVersion{6, 12}, EINVAL}, {KernelVersion{6, 1}, EPERM}}) {
    host.kernel = kernel;
    Result<Type1Model> m = model_type1(host, {8}, Policy::kKernel);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().code, code) << kernel.to_string();
    EXPECT_EQ(m.error().kind, ErrorKind::kRefused);
  }
}

TEST(Container, EffectivePolicyCutsAtDeclaredLimits) {
  Host host = two_group_intel();
  host.groups[0].devices[0].declared_dma_bits = 36;
  Result<Type1Model> m = model_type1(host, {7, 8}, Policy::kEffective);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(to_sysfs_lines(m->container.iova_list()),
            "0x0000000000000000 0x00000000fedfffff\n"
            "0x00000000fef00000 0x0000000fffffffff\n");
  // The kernel policy ignores the limit; the stale 32-bit mask is ignored by both.
  m = model_type1(host, {7, 8}, Policy::kKernel);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->container.iova_list().back().last, 0x7fffffffffu);
}

// The RFC would have cut the VFIO ranges at the stale 32-bit mask of a vfio-pci device: the
// reason it was rejected.
TEST(Container, RfcCutsAtTheStaleMask) {
  Host host = two_group_intel();
  Result<Type1Model> m = model_type1(host, {7}, Policy::kRfc);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(to_sysfs_lines(m->container.iova_list()),
            "0x0000000000000000 0x00000000fedfffff\n"
            "0x00000000fef00000 0x00000000ffffffff\n");
}

TEST(Container, IommufdMatchesType1OnASimpleGroup) {
  Host host = two_group_intel();
  Result<IoasModelResult> ioas = model_iommufd(host, {7}, Policy::kKernel);
  ASSERT_TRUE(ioas.ok()) << ioas.error().message;
  IovaRangesReply reply = ioas->ioas.iova_ranges(8);
  EXPECT_EQ(to_sysfs_lines(reply.ranges),
            "0x0000000000000000 0x00000000fedfffff\n"
            "0x00000000fef00000 0x0000007fffffffff\n");
  EXPECT_EQ(reply.alignment, 0x1000u);
}

TEST(Container, Errors) {
  Host host = two_group_intel();
  Result<Type1Model> m = model_type1(host, {9}, Policy::kKernel);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ENOENT);
  EXPECT_NE(m.error().message.find("no IOMMU group 9 in test host"), std::string::npos);
  EXPECT_EQ(model_type1(host, {7, 7}, Policy::kKernel).error().code, EINVAL);
  EXPECT_EQ(model_type1(host, {}, Policy::kKernel).error().code, EINVAL);

  // A group whose regions leave nothing usable: the kernel's EINVAL, naming the group.
  host.groups[0].devices[0].declared_dma_bits = 1;
  host.groups[0].devices[0].firmware_regions.push_back(
      ReservedRegion::make({0, 1}, RegionType::kDirect, {Origin::kFirmware, "RMRR"}));
  m = model_type1(host, {7}, Policy::kEffective);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, EINVAL);
  EXPECT_NE(m.error().message.find("attaching group 7"), std::string::npos) << m.error().message;
}

TEST(Container, UnisolatedMsiFailsTheAttachAndSaysWhatToDo) {
  Host host = two_group_intel();
  host.msi = MsiEvidence{false, "sys/kernel/irq/9/chip_name: 'IO-APIC'"};
  Result<Type1Model> m = model_type1(host, {7}, Policy::kKernel);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, EPERM);
  EXPECT_EQ(m.error().message,
            "attaching group 7: group 7: its MSIs are not isolated (no interrupt remapping) and "
            "vfio_iommu_type1.allow_unsafe_interrupts is off: the kernel refuses the attach "
            "(from sys/kernel/irq/9/chip_name: 'IO-APIC'); " +
                msi_advice("vfio_iommu_type1"));
  Result<IoasModelResult> fd = model_iommufd(host, {7}, Policy::kKernel);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().code, EPERM);
  EXPECT_NE(fd.error().message.find("attaching device 0000:01:00.0 of group 7"), std::string::npos);
  EXPECT_NE(fd.error().message.find(msi_advice("iommufd")), std::string::npos);
  // Each module has its own parameter.
  host.type1_allow_unsafe_interrupts = true;
  EXPECT_TRUE(model_type1(host, {7}, Policy::kKernel).ok());
  EXPECT_FALSE(model_iommufd(host, {7}, Policy::kKernel).ok());
  host.iommufd_allow_unsafe_interrupts = true;
  EXPECT_TRUE(model_iommufd(host, {7}, Policy::kKernel).ok());
  // Unknown (nothing in sysfs tells): isolated assumed, as before.
  host = two_group_intel();
  EXPECT_TRUE(model_type1(host, {7, 8}, Policy::kKernel).ok());
  EXPECT_TRUE(model_iommufd(host, {7, 8}, Policy::kKernel).ok());
}

}  // namespace
}  // namespace iovamap
