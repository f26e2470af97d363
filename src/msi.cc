#include "iovamap/msi.h"

#include <cstdio>
#include <map>
#include <utility>

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
    // No chip tells, but the AMD driver's boot-time rule over the IVRS does.
    std::optional<AmdIntremapCheck> amd = amd_intremap_check(host);
    if (amd && amd->remapping_off) {
      out.isolated = false;
      out.known = true;
      out.why = amd->why;
    }
  }
  return out;
}

namespace {

// From 7.3 the southbridge IO-APIC must be a function whose class is SMBus or ISA bridge
// (check_sb_ioapic): "iommu/amd: Dynamically verify Southbridge IOAPIC via PCI config space",
// with "Fix false positive in SB IOAPIC IVRS validation" and "Prevent SB IOAPIC from overriding
// IVRS validation errors", merged into mainline on 2026-08-19 (the 7.3 merge window; init.c as
// of "iommu/amd: Adhere to IVINFO[VASIZE] for address limits", a 7.2 change, still compares
// with IOAPIC_SB_DEVID). Debian 6.18.15 has the old rule, 7.3.4 the new one.
// Stable backported the three (linux-6.12.y, September 2026): later 6.12.y and other stable
// point releases may have the new rule too, which a major.minor version cannot tell.
constexpr KernelVersion kSbIoapicClassCheck{7, 3};
constexpr uint32_t kSbIoapicDevid = 0x00a0;  // 00:14.0, IOAPIC_SB_DEVID before the change

bool southbridge_class(uint32_t class_code) {
  uint32_t base_sub = class_code >> 8;
  return base_sub == 0x0c05 || base_sub == 0x0601;  // SMBus controller, ISA bridge
}

std::string sbdf_string(uint32_t sbdf) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", sbdf >> 16, (sbdf >> 8) & 0xff,
                (sbdf >> 3) & 0x1f, sbdf & 7);
  return buf;
}

}  // namespace

std::optional<AmdIntremapCheck> amd_intremap_check(const Host& host) {
  if (!host.firmware.ivrs) return std::nullopt;
  bool amd = false;
  for (const IommuUnit& u : host.iommus) amd = amd || driver_name(u.driver) == "amd";
  if (!amd) return std::nullopt;
  // Every PCI function the host shows, by segment:bus:dev.fn, with its class.
  std::map<uint32_t, uint32_t> classes;
  for (const Group& g : host.groups) {
    for (const Device& d : g.devices) {
      unsigned seg = 0, bus = 0, dev = 0, fn = 0;
      if (d.is_pci && std::sscanf(d.name.c_str(), "%x:%x:%x.%x", &seg, &bus, &dev, &fn) == 4)
        classes[(seg << 16) | (bus << 8) | (dev << 3) | fn] = d.class_code;
    }
  }
  // IO-APIC id -> (sbdf, where it came from): the command line first (add_special_device
  // keeps a command-line entry over the IVRS's for the same id), then the IVHD entries.
  std::map<uint32_t, std::pair<uint32_t, std::string>> ioapics;
  for (const auto& [id, sbdf] : host.amd_ivrs_ioapic)
    ioapics[id] = {sbdf, "ivrs_ioapic on the command line"};
  for (const IvrsIvhd& h : host.firmware.ivrs->ivhds) {
    for (const IvrsDeviceEntry& e : h.entries) {
      if (e.type != 0x48 || e.variety != 1 || ioapics.count(e.handle)) continue;
      ioapics[e.handle] = {(uint32_t{h.pci_segment} << 16) | e.device_id,
                           "IVRS IVHD " + std::to_string(h.index) + " special entry"};
    }
  }
  bool class_rule = host.kernel >= kSbIoapicClassCheck;
  AmdIntremapCheck out;
  std::string seen;
  bool found = false;
  for (const auto& [id, where] : ioapics) {
    auto [sbdf, source] = where;
    auto cls = classes.find(sbdf);
    bool sb = class_rule ? cls != classes.end() && southbridge_class(cls->second)
                         : (sbdf & 0xffff) == kSbIoapicDevid;
    found = found || sb;
    char cbuf[16];
    std::snprintf(cbuf, sizeof cbuf, "0x%06x", cls == classes.end() ? 0 : cls->second);
    seen += (seen.empty() ? "" : ", ") + std::string("IO-APIC ") + std::to_string(id) + " at " +
            sbdf_string(sbdf) + " (" + source + "; " +
            (cls == classes.end() ? std::string("no PCI function there")
                                  : "class " + std::string(cbuf)) +
            ")";
  }
  const char* wanted = class_rule ? "an IO-APIC at an SMBus controller or ISA bridge (7.3+, "
                                    "check_sb_ioapic)"
                                  : "an IO-APIC at 00:14.0 (IOAPIC_SB_DEVID, before 7.3)";
  if (found) {
    out.why = "AMD-Vi keeps interrupt remapping: " + seen;
    return out;
  }
  out.remapping_off = true;
  out.why = std::string(
                "AMD-Vi turned interrupt remapping off at boot (\"[Firmware Bug]: : No "
                "southbridge IOAPIC found\"; drivers/iommu/amd/init.c "
                "check_ioapic_information wants ") +
            wanted + "; it has " + (seen.empty() ? "no IO-APIC entry" : seen) + ")";
  // The kernel's own fix: name the southbridge IO-APIC's function on the command line. The
  // function to name is the ISA bridge (else the SMBus controller) the host shows; which
  // IO-APIC id is the southbridge's is in the MADT, which iovamap does not read: the id the
  // IVRS already lists, else 0.
  uint32_t id = ioapics.empty() ? 0 : ioapics.begin()->first;
  std::optional<uint32_t> target;
  for (uint32_t want : {0x0601u, 0x0c05u}) {
    for (const auto& [sbdf, cls] : classes) {
      if ((cls >> 8) == want && !target) target = sbdf;
    }
  }
  std::string risk = "allow_unsafe_interrupts or a kernel before 7.3";
  if (!class_rule) {
    out.fix = "if the IVRS gives the IO-APIC a wrong id (a firmware bug), boot with ivrs_ioapic=" +
              std::to_string(id) +
              "@0000:00:14.0 (the id kernels before 7.3 take as the southbridge's), after "
              "checking the IO-APIC id in the MADT";
  } else if (target) {
    out.fix =
        "if the IVRS gives the IO-APIC a wrong id (a firmware bug), boot with ivrs_ioapic=" +
        std::to_string(id) + "@<the function it really sends from>, usually the " +
        "southbridge's ISA bridge or SMBus controller, here ivrs_ioapic=" + std::to_string(id) +
        "@" + sbdf_string(*target) + " (older kernels spell it ivrs_ioapic[" + std::to_string(id) +
        "]=bus:dev.fn); if the id is right, as under QEMU, whose IO-APIC sends as 00:14.0 "
        "where q35 has no device, naming another function misroutes its interrupts (Linux "
        "7.3 under QEMU 7.2 hung at boot with ivrs_ioapic=0@0000:00:1f.0) and only " +
        risk + " helps";
  } else {
    out.fix =
        "no SMBus controller or ISA bridge is visible to name in ivrs_ioapic=; a firmware "
        "update with a correct IVRS, " +
        risk;
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
