#include "iovamap/msi.h"

#include "iovamap/sysfs_reader.h"

namespace iovamap {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

MsiChipClass classify_irq_chip(std::string_view name) {
  name = strip_newline(name);
  // The Intel and AMD remapping drivers give their MSI parent the "IR-" prefix
  // (drivers/iommu/intel/irq_remapping.c, drivers/iommu/amd/iommu.c: msi_parent_ops) and the
  // remapped IO-APIC chip is "IR-IO-APIC" (arch/x86/kernel/apic/io_apic.c); both remapping
  // domains carry the isolated-MSI flag.
  if (starts_with(name, "IR-")) return MsiChipClass::kIsolating;
  // The ITS: its LPI chip "ITS", the MSI chips "ITS-MSI"/"ITS-pMSI" and, since the ITS became
  // an MSI parent, the "ITS-" prefix (drivers/irqchip/irq-gic-v3-its*.c); the ITS domain
  // carries the flag (its_probe_one), cleared only for a pre-ITS window.
  if (starts_with(name, "ITS")) return MsiChipClass::kIsolating;
  // x86 without remapping: the plain IO-APIC chip, and PCI MSI domains whose parent (the
  // vector domain) adds no prefix (kernel/irq/msi.c names per-device chips
  // PREFIX + "PCI-MSI"/"PCI-MSIX" + "-" + device). GICv2m frames do not isolate either.
  if (name == "IO-APIC" || starts_with(name, "PCI-MSI") || starts_with(name, "GICv2m"))
    return MsiChipClass::kNotIsolating;
  return MsiChipClass::kSilent;
}

MsiVerdict group_msi_isolation(const Host& host, const Group& group) {
  MsiVerdict out;
  std::string first_yes;
  bool all_known = true;
  auto consider = [&](const std::string& who, const std::optional<MsiEvidence>& e) {
    if (!e) {
      all_known = false;
      return;
    }
    std::string why = who + e->source;
    if (!e->isolated && out.isolated) {
      out.isolated = false;
      out.why = why;
    }
    if (e->isolated && first_yes.empty()) first_yes = why;
  };
  if (group.devices.empty()) consider("", host.msi);
  for (const Device& d : group.devices) {
    if (d.msi)
      consider(d.name + ": ", d.msi);
    else
      consider("", host.msi);
  }
  if (!out.isolated) {
    out.known = true;
  } else if (all_known) {
    out.known = true;
    out.why = first_yes;
  } else {
    out.why =
        "nothing says whether MSIs are isolated (no interrupt chip in sysfs /sys/kernel/irq "
        "tells, and no topology says): isolated assumed";
  }
  return out;
}

std::string msi_advice(std::string_view module) {
  std::string m(module);
  return "enable interrupt remapping (intremap=on; a virtio-iommu has none), or accept the "
         "risk: echo 1 > /sys/module/" +
         m + "/parameters/allow_unsafe_interrupts, or boot with " + m +
         ".allow_unsafe_interrupts=1";
}

}  // namespace iovamap
