// QEMU sizes, machine types and CPU models (vm_config.h).
#include "iovamap/vm_config.h"

#include <gtest/gtest.h>

namespace iovamap {
namespace {

TEST(QemuSize, UnitsFractionsAndDefaults) {
  EXPECT_EQ(*parse_qemu_size("16G", 'M'), 16 * kGiB);
  EXPECT_EQ(*parse_qemu_size("16g", 'M'), 16 * kGiB);
  EXPECT_EQ(*parse_qemu_size("4096", 'M'), 4 * kGiB);  // -m counts MiB without a unit
  EXPECT_EQ(*parse_qemu_size("4096", 'B'), 4096u);
  EXPECT_EQ(*parse_qemu_size("1.5G", 'B'), kGiB + kGiB / 2);
  EXPECT_EQ(*parse_qemu_size("0x1000", 'B'), 0x1000u);
  EXPECT_EQ(*parse_qemu_size("15E", 'B'), uint64_t{15} << 60);
  EXPECT_EQ(*parse_qemu_size("0", 'M'), 0u);
}

TEST(QemuSize, OverflowIsERangeAndSyntaxEinval) {
  EXPECT_EQ(parse_qemu_size("16E", 'B').error().code, ERANGE);
  EXPECT_EQ(parse_qemu_size("17179869184G", 'B').error().code, ERANGE);  // 2^64
  EXPECT_EQ(parse_qemu_size("99999999999999999999", 'B').error().code, ERANGE);
  EXPECT_EQ(parse_qemu_size("18446744073709551615", 'B').value(), UINT64_MAX);
  EXPECT_EQ(parse_qemu_size("18446744073709551615K", 'B').error().code, ERANGE);
  for (const char* bad : {"", "G", "1Q", "1GB", "1.G", "0x1.5G", "-1", "1.5", " 1G"})
    EXPECT_EQ(parse_qemu_size(bad, 'B').error().code, EINVAL) << bad;
}

TEST(MachineType, VersionsAndFamilies) {
  MachineType q = *parse_machine_type("pc-q35-7.2");
  EXPECT_EQ(q.family, MachineFamily::kQ35);
  EXPECT_EQ(q.major, 7);
  EXPECT_EQ(q.minor, 2);
  EXPECT_TRUE(q.at_least(7, 1));
  EXPECT_FALSE(q.at_least(8, 0));
  EXPECT_EQ(parse_machine_type("q35")->major, 0);
  EXPECT_TRUE(parse_machine_type("q35")->at_least(99, 0));
  EXPECT_EQ(parse_machine_type("pc-i440fx-8.1+pve0")->minor, 1);
  EXPECT_EQ(parse_machine_type("pc-q35-rhel9.4.0")->major, 9);
  EXPECT_EQ(parse_machine_type("pc-1.7")->family, MachineFamily::kI440fx);
  EXPECT_EQ(parse_machine_type("pc")->family, MachineFamily::kI440fx);
  for (const char* bad : {"microvm", "virt", "pc-q35-", "pc-q35-x.y", "pc-q35-7", "isapc"})
    EXPECT_FALSE(parse_machine_type(bad).ok()) << bad;
}

TEST(VmCpu, VendorFollowsTheModelOrTheHost) {
  EXPECT_EQ(VmCpu{.model = "qemu64"}.vendor(CpuVendor::kIntel), CpuVendor::kAmd);
  EXPECT_EQ(VmCpu{.model = "EPYC-Rome"}.vendor(CpuVendor::kIntel), CpuVendor::kAmd);
  EXPECT_EQ(VmCpu{.model = "kvm64"}.vendor(CpuVendor::kAmd), CpuVendor::kIntel);
  EXPECT_EQ(VmCpu{.model = "Skylake-Client"}.vendor(CpuVendor::kAmd), CpuVendor::kIntel);
  EXPECT_EQ(VmCpu{.model = "host"}.vendor(CpuVendor::kAmd), CpuVendor::kAmd);
  EXPECT_EQ(VmCpu{.model = "host-model"}.vendor(CpuVendor::kIntel), CpuVendor::kIntel);
  EXPECT_TRUE(VmCpu{.model = "max"}.is_host_model());
  EXPECT_FALSE(VmCpu{.model = "qemu64"}.has_1g_pages());
  EXPECT_TRUE(VmCpu{.model = "Skylake-Server-v4"}.has_1g_pages());
}

}  // namespace
}  // namespace iovamap
