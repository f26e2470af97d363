// MSI isolation: the chip names the kernel gives its interrupt chips (checked in the 6.12 and
// newer sources, see msi.h) and the group rule (every device isolated).
#include "iovamap/msi.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace iovamap
