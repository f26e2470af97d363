// MSI isolation: when the kernel lets VFIO and iommufd hand a device to user space.
//
// A device doing DMA can also write to the MSI doorbell and so raise interrupts. The kernel
// lets user space own a device only when its MSIs are isolated (a write can raise only the
// interrupts assigned to that device), or when the administrator accepts the risk with the
// `allow_unsafe_interrupts` parameter of vfio_iommu_type1 (type1 containers) or of iommufd.
// Otherwise VFIO_GROUP_SET_CONTAINER / VFIO_SET_IOMMU (type1 attach) and iommufd's device bind
// fail with EPERM. The rule (docs/kernel-rules.md):
//   - kernel/irq/msi.c, msi_device_has_isolated_msi: a device is isolated when an irq domain on
//     its MSI path carries the isolated-MSI flag (x86 interrupt remapping by the Intel and AMD
//     drivers; the arm64 GICv3 ITS, unless a "pre-ITS" window is configured), else when the
//     architecture says all MSIs are (arch_is_isolated_msi; false on x86 and arm64);
//   - drivers/iommu/iommu.c, iommu_group_has_isolated_msi: a group is isolated when every
//     device of it is;
//   - before v6.3 the same question was asked as "does any irq domain in the system remap MSIs,
//     or does the group's IOMMU report IOMMU_CAP_INTR_REMAP" (Intel and AMD: interrupt
//     remapping enabled); on the hosts iovamap models the answer is the same.
//
// Sysfs shows the answer through interrupt chip names (/sys/kernel/irq/<n>/chip_name): the
// x86 remapping drivers name their chips "IR-..." ("IR-IO-APIC", "IR-PCI-MSIX-0000:01:00.0"),
// the ITS its chips "ITS..." ("ITS", "ITS-MSI", "ITS-PCI-MSIX-..."), while x86 without
// remapping shows "IO-APIC" and "PCI-MSI...". A device's own vectors are in
// <device>/msi_irqs/ while a driver has MSIs enabled.
//
// Example:
//   classify_irq_chip("IR-IO-APIC");             // kIsolating
//   MsiVerdict v = group_msi_isolation(host, group);
//   if (!v.isolated) ...                         // attach fails unless unsafe is allowed
//
// Sharp edges:
//   - An arm64 host whose devices all sit with vfio-pci may show no ITS chip at all (no vector
//     allocated): the answer is then unknown, and unknown is taken as isolated (`known` false).
//   - A pre-ITS window (Socionext SynQuacer) clears the ITS's isolation flag; sysfs does not
//     show it, so such a host is wrongly taken as isolated.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "iovamap/host.h"

namespace iovamap {

// What one interrupt chip's name says about MSI isolation.
enum class MsiChipClass {
  kIsolating,     // "IR-..." (x86 interrupt remapping), "ITS..." (GICv3 ITS)
  kNotIsolating,  // "IO-APIC", "PCI-MSI..." (x86 without remapping), "GICv2m..."
  kSilent,        // anything else: timers, GIC SPIs, the IOMMU's own fault interrupt
};
MsiChipClass classify_irq_chip(std::string_view chip_name);

// The model's answer for one group (iommu_group_has_isolated_msi).
struct MsiVerdict {
  bool isolated = true;  // what the model uses
  bool known = false;    // false: nothing told, isolation is assumed
  std::string why;       // where the answer came from, for messages
};

// Each device's own evidence, else the host's; a group is isolated when all its devices are.
// A device without evidence on a host without evidence leaves the answer unknown (isolated
// assumed); one device known not to be isolated decides the group.
MsiVerdict group_msi_isolation(const Host& host, const Group& group);

// Whether the AMD-Vi driver turned interrupt remapping off at boot because the IVRS does not
// name the southbridge IO-APIC the way the running kernel wants it (drivers/iommu/amd/init.c,
// check_ioapic_information; docs/kernel-rules.md, "AMD: when the driver turns interrupt
// remapping off"). Each IO-APIC's device id comes from an IVHD special entry (48h, IO-APIC) or
// from `ivrs_ioapic` on the command line (Host::amd_ivrs_ioapic), which wins for its id. Up to
// 7.2 the southbridge IO-APIC is one whose id is 00:14.0; from 7.3 it must be a PCI function
// that is an SMBus controller or an ISA bridge (stable point releases of older series that got
// the change backported are not told apart).
struct AmdIntremapCheck {
  bool remapping_off = false;
  std::string why;  // the IVRS entries and what the kernel wanted, for messages
  std::string fix;  // the ivrs_ioapic parameter naming a suitable function, or why there is none
};

// nullopt unless the host's IOMMU is AMD's and its IVRS was read. Sharp edges: the MADT is not
// read, so which IO-APIC has GSI base 0 (the southbridge's, from 7.3) is not known: any
// IO-APIC the IVRS or the command line names counts; an IO-APIC the MADT lists but the IVRS
// does not ("IOAPIC[n] not in IVRS table", which also turns remapping off) is not seen; a PCI
// function outside every IOMMU group has no class here and counts as absent.
std::optional<AmdIntremapCheck> amd_intremap_check(const Host& host);

// What a user can do about an EPERM attach: the parameter of `module` ("vfio_iommu_type1" or
// "iommufd") to set, or interrupt remapping to enable.
std::string msi_advice(std::string_view module);

}  // namespace iovamap
