// The host CPU from cpuinfo and BARs from a PCI resource file (vm_host.h).
#include "iovamap/vm_host.h"

#include <gtest/gtest.h>

namespace iovamap {
namespace {

TEST(VmHost, CpuinfoFirstProcessor) {
  const char* text =
      "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: 13th Gen Intel(R) Core(TM) "
      "i7-13700K\naddress sizes\t: 46 bits physical, 48 bits virtual\n\n"
      "processor\t: 1\nvendor_id\t: AuthenticAMD\naddress sizes\t: 48 bits physical, 48 bits "
      "virtual\n";
  VmHostCpu cpu = parse_cpuinfo(text, "cpuinfo").value();
  EXPECT_EQ(cpu.vendor, CpuVendor::kIntel);
  EXPECT_EQ(cpu.phys_bits, 46u);
  EXPECT_EQ(parse_cpuinfo("vendor_id : AuthenticAMD\n", "c")->vendor, CpuVendor::kAmd);
  EXPECT_FALSE(parse_cpuinfo("vendor_id : AuthenticAMD\n", "c")->phys_bits);
  Result<VmHostCpu> bad = parse_cpuinfo("processor : 0\naddress sizes : lots\n", "c");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("c:2: address sizes"), std::string::npos);
  EXPECT_FALSE(parse_cpuinfo("address sizes : 99 bits physical, 48 bits virtual\n", "c").ok());
}

TEST(VmHost, PciResourceMemoryBarsOnly) {
  // A GPU: BAR 0 32-bit MMIO, BAR 1 64-bit prefetchable 16 GiB (its pair line is zero),
  // BAR 3 64-bit prefetchable, BAR 5 I/O ports, then the ROM and bridge lines.
  const char* text =
      "0x00000000f6000000 0x00000000f6ffffff 0x0000000000040200\n"
      "0x0000004000000000 0x00000043ffffffff 0x000000000014220c\n"
      "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
      "0x0000004400000000 0x0000004401ffffff 0x000000000014220c\n"
      "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
      "0x000000000000e000 0x000000000000e07f 0x0000000000040101\n"
      "0x00000000f7000000 0x00000000f707ffff 0x0000000000046200\n";
  std::vector<VmBar> bars = parse_pci_resource(text, "0000:01:00.0", "resource").value();
  ASSERT_EQ(bars.size(), 3u);
  EXPECT_EQ(bars[0].index, 0u);
  EXPECT_FALSE(bars[0].is64);
  EXPECT_EQ(bars[1].index, 1u);
  EXPECT_EQ(bars[1].size, uint64_t{16} << 30);
  EXPECT_TRUE(bars[1].is64);
  EXPECT_TRUE(bars[1].prefetch);
  EXPECT_EQ(bars[2].index, 3u);
  EXPECT_EQ(bars[2].size, uint64_t{32} << 20);
  EXPECT_FALSE(parse_pci_resource("0x0 0x2 0x200\n", "d", "r").ok());  // 3 bytes
  Result<std::vector<VmBar>> bad = parse_pci_resource("0x0 zz 0x200\n", "d", "r");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("r:1"), std::string::npos);
}

}  // namespace
}  // namespace iovamap
