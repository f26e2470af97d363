// MSI isolation: the chip names the kernel gives its interrupt chips (checked in the 6.12 and
// newer sources, see msi.h) and the group rule (every device isolated).
#include "iovamap/msi.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <utility>

namespace iovamap {
namespace {

TEST(Msi, ChipNamesAsTheKernelWritesThem) {
  // x86 interrupt remapping (Intel and AMD), 6.1 and per-device (6.2+) names.
  for (const char* n : {"IR-IO-APIC", "IR-PCI-MSI", "IR-PCI-MSIX-0000:01:00.0",
                        "IR-PCI-MSI-0000:00:1f.2", "IR-HPET-MSI\n"})
    EXPECT_EQ(classify_irq_chip(n), MsiChipClass::kIsolating) << n;
  // The GICv3 ITS: LPI chip, 6.1-6.12 MSI chips, and the later "ITS-" parent prefix.
  for (const char* n : {"ITS", "ITS-MSI", "ITS-pMSI", "ITS-PCI-MSIX-0000:00:02.0"})
    EXPECT_EQ(classify_irq_chip(n), MsiChipClass::kIsolating) << n;
  // x86 without remapping: no prefix from the vector domain.
  for (const char* n : {"IO-APIC", "PCI-MSI", "PCI-MSIX-0000:00:03.0", "PCI-MSI-0000:00:1f.2\n",
                        "GICv2m-PCI-MSIX-0000:00:02.0"})
    EXPECT_EQ(classify_irq_chip(n), MsiChipClass::kNotIsolating) << n;
  // Say nothing about MSIs.
  for (const char* n : {"", "GICv3", "XT-PIC", "DMAR-MSI", "AMD-Vi", "IR", "IO-APIC-x", "its"})
    EXPECT_EQ(classify_irq_chip(n), MsiChipClass::kSilent) << n;
}

Group group_of(std::vector<std::optional<MsiEvidence>> devices) {
  Group g{.id = 3};
  for (size_t i = 0; i < devices.size(); ++i) {
    Device d{.name = "0000:00:0" + std::to_string(i) + ".0"};
    d.msi = devices[i];
    g.devices.push_back(d);
  }
  return g;
}

TEST(Msi, AGroupIsIsolatedWhenEveryDeviceIs) {
  Host host;
  // Nothing known: isolated assumed, and said so.
  MsiVerdict v = group_msi_isolation(host, group_of({std::nullopt, std::nullopt}));
  EXPECT_TRUE(v.isolated);
  EXPECT_FALSE(v.known);
  EXPECT_NE(v.why.find("assumed"), std::string::npos) << v.why;
  // The host's answer covers devices without their own.
  host.msi = MsiEvidence{false, "irq/9: 'IO-APIC'"};
  v = group_msi_isolation(host, group_of({std::nullopt}));
  EXPECT_FALSE(v.isolated);
  EXPECT_TRUE(v.known);
  EXPECT_EQ(v.why, "irq/9: 'IO-APIC'");
  host.msi = MsiEvidence{true, "irq/9: 'IR-IO-APIC'"};
  v = group_msi_isolation(host, group_of({std::nullopt, std::nullopt}));
  EXPECT_TRUE(v.isolated);
  EXPECT_TRUE(v.known);
  // One device not isolated decides the group, whatever the others and the host say.
  v = group_msi_isolation(host, group_of({std::nullopt, MsiEvidence{false, "irq/30: 'PCI-MSI'"}}));
  EXPECT_FALSE(v.isolated);
  EXPECT_EQ(v.why, "0000:00:01.0: irq/30: 'PCI-MSI'");
  // Known for one device, unknown for another on an unknown host: still unknown.
  host.msi.reset();
  v = group_msi_isolation(host, group_of({MsiEvidence{true, "x"}, std::nullopt}));
  EXPECT_TRUE(v.isolated);
  EXPECT_FALSE(v.known);
  v = group_msi_isolation(host, group_of({MsiEvidence{true, "x"}}));
  EXPECT_TRUE(v.known);
  EXPECT_EQ(v.why, "0000:00:00.0: x");
  // A group without devices takes the host's answer.
  host.msi = MsiEvidence{false, "h"};
  EXPECT_FALSE(group_msi_isolation(host, Group{.id = 1}).isolated);
}

TEST(Msi, AdviceNamesTheModuleParameter) {
  std::string a = msi_advice("iommufd");
  EXPECT_NE(a.find("/sys/module/iommufd/parameters/allow_unsafe_interrupts"), std::string::npos);
  EXPECT_NE(a.find("iommufd.allow_unsafe_interrupts=1"), std::string::npos);
  EXPECT_NE(a.find("interrupt remapping"), std::string::npos);
}

// The AMD driver's southbridge IO-APIC rule over QEMU 7.2's IVRS (one IVHD 10h whose special
// entry gives IO-APIC 0 the id 00:14.0, where q35 has no device): 6.18 keeps remapping on, the
// 7.x rule (an SMBus controller or ISA bridge there) turns it off, and the kernel's own fix,
// ivrs_ioapic naming the ISA bridge, keeps it on.
Host qemu_amd_host(KernelVersion kernel) {
  Host host;
  host.kernel = kernel;
  host.iommus.push_back(IommuUnit{.name = "ivhd0", .driver = "amd"});
  std::ifstream f(
      std::string(IOVAMAP_TEST_DATA) + "/lab-amd-612/root/sys/firmware/acpi/tables/IVRS",
      std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  Result<Ivrs> ivrs = parse_ivrs(bytes);
  EXPECT_TRUE(ivrs) << (ivrs ? "" : ivrs.error().message);
  if (ivrs) host.firmware.ivrs = *ivrs;
  Group isa{.id = 7};
  for (auto [name, cls] :
       {std::pair{"0000:00:1f.0", 0x060100u}, std::pair{"0000:00:1f.2", 0x010601u},
        std::pair{"0000:00:1f.3", 0x0c0500u}})
    isa.devices.push_back(Device{.name = name, .is_pci = true, .class_code = cls});
  host.groups.push_back(isa);
  return host;
}

TEST(Msi, AmdRemappingFollowsTheSouthbridgeIoapicRuleOfTheKernel) {
  Host old_kernel = qemu_amd_host({6, 18});
  std::optional<AmdIntremapCheck> c = amd_intremap_check(old_kernel);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->remapping_off) << c->why;

  // 7.2 still asks for 00:14.0 (IOAPIC_SB_DEVID), which QEMU's IVRS gives IO-APIC 0.
  c = amd_intremap_check(qemu_amd_host({7, 2}));
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->remapping_off) << c->why;

  Host new_kernel = qemu_amd_host({7, 3});
  c = amd_intremap_check(new_kernel);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->remapping_off);
  EXPECT_NE(c->why.find("IO-APIC 0 at 0000:00:14.0"), std::string::npos) << c->why;
  EXPECT_NE(c->why.find("no PCI function there"), std::string::npos) << c->why;
  EXPECT_NE(c->fix.find("ivrs_ioapic=0@0000:00:1f.0"), std::string::npos) << c->fix;
  // With nothing from the chips, the rule decides the groups' isolation.
  MsiVerdict v = group_msi_isolation(new_kernel, new_kernel.groups.front());
  EXPECT_FALSE(v.isolated);
  EXPECT_TRUE(v.known);
  // Chips that say otherwise win: they are what the kernel did.
  new_kernel.msi = MsiEvidence{true, "irq/24: 'IR-IO-APIC'"};
  EXPECT_TRUE(group_msi_isolation(new_kernel, new_kernel.groups.front()).isolated);

  // The command line's map wins over the IVRS's entry for the same id.
  Host fixed = qemu_amd_host({7, 3});
  fixed.amd_ivrs_ioapic[0] = 0x00f8;  // 00:1f.0, the ISA bridge
  c = amd_intremap_check(fixed);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->remapping_off) << c->why;
  // ...and an SMBus controller serves as well; a function of another class does not.
  fixed.amd_ivrs_ioapic[0] = 0x00fb;  // 00:1f.3
  EXPECT_FALSE(amd_intremap_check(fixed)->remapping_off);
  fixed.amd_ivrs_ioapic[0] = 0x00fa;  // 00:1f.2, SATA
  EXPECT_TRUE(amd_intremap_check(fixed)->remapping_off);

  // Not AMD, or no IVRS: nothing to say.
  Host intel = qemu_amd_host({7, 3});
  intel.iommus.front().driver = "intel";
  EXPECT_FALSE(amd_intremap_check(intel));
  Host no_table = qemu_amd_host({7, 3});
  no_table.firmware.ivrs.reset();
  EXPECT_FALSE(amd_intremap_check(no_table));
}

}  // namespace
}  // namespace iovamap
