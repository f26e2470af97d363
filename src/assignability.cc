// Assignability: the kernel's refusals before the first mapping (assignability.h).
#include "iovamap/assignability.h"

#include <cerrno>

#include "iovamap/msi.h"
#include "iovamap/policy.h"

namespace iovamap {
namespace {

constexpr KernelVersion kDmaOwnership{5, 19};  // iommu_group_claim_dma_owner
constexpr KernelVersion kRequireDirect{6, 6};  // __iommu_device_set_domain's require_direct
constexpr KernelVersion kIommufd{6, 2};        // /dev/iommu

// A device with a `direct` region: the 6.6+ core rule, and Intel's before it.
struct DirectRule {
  AssignRule rule;
  int error_number;
  const char* message;  // the kernel's log line
  const char* source;
  const char* fix;
};
constexpr DirectRule kCoreDirectRule{
    AssignRule::kFirmwareDirect, EINVAL,
    "Firmware has requested this device have a 1:1 IOMMU mapping, rejecting configuring the "
    "device without a 1:1 mapping. Contact your platform vendor.",
    "drivers/iommu/iommu.c __iommu_device_set_domain (6.6+)",
    "nothing on this kernel: no parameter lifts it. The region comes from the firmware; look "
    "for a firmware update or setting that drops it for this device (RMRRs often follow legacy "
    "USB or integrated graphics, IVMDs a range of device ids). Kernels before 6.6 took such a "
    "device behind AMD and ARM IOMMUs (Intel refused it there too)."};
constexpr DirectRule kIntelRmrrRule{
    AssignRule::kRmrrLocked, EPERM,
    "Device is ineligible for IOMMU domain attach due to platform RMRR requirement.  Contact "
    "your platform vendor.",
    "drivers/iommu/intel/iommu.c device_is_rmrr_locked (before 6.6)",
    "nothing on this kernel: the firmware's RMRR names this device and is not relaxable (only "
    "USB and graphics devices' are); look for a firmware update or setting that drops it."};

bool is_bridge(const Device& d) {
  uint32_t base_sub = d.class_code >> 8;  // PCI-to-PCI, CardBus, semi-transparent PCI-to-PCI
  return d.is_pci && (base_sub == 0x0604 || base_sub == 0x0607 || base_sub == 0x0609);
}

// Before 5.19 VFIO's own list: no driver, pci-stub, a VFIO driver, or a bridge.
bool viable_before_ownership(const Device& d) {
  return d.driver.empty() || d.driver == "pci-stub" || d.driver.find("vfio") != std::string::npos ||
         is_bridge(d);
}

std::string bind_to_vfio(const Device& d) {
  if (!d.is_pci) return "unbind " + d.name + " from " + d.driver;
  std::string dev = "/sys/bus/pci/devices/" + d.name;
  return "bind " + d.name + " to vfio-pci (or unbind it): echo vfio-pci > " + dev +
         "/driver_override; echo " + d.name + " > " + dev + "/driver/unbind; echo " + d.name +
         " > /sys/bus/pci/drivers_probe";
}

void host_driver_findings(const Host& host, const Group& group, ContainerRules rules,
                          std::vector<AssignFinding>* out) {
  bool ownership = host.kernel >= kDmaOwnership;
  for (const Device& d : group.devices) {
    bool fine =
        ownership ? d.driver.empty() || driver_manages_dma(d.driver) : viable_before_ownership(d);
    if (fine) continue;
    std::string call =
        rules == ContainerRules::kIommufd ? "VFIO_DEVICE_BIND_IOMMUFD" : "VFIO_GROUP_SET_CONTAINER";
    out->push_back(AssignFinding{
        .rule = AssignRule::kHostDriver,
        .blocks = false,
        .error_number = ownership ? EPERM : 0,
        .group_id = group.id,
        .device = d.name,
        .evidence = "bound to " + d.driver + ", a driver that uses the kernel's DMA API",
        .kernel_says = ownership ? call + " fails with EPERM while it is bound"
                                 : "VFIO reports group " + std::to_string(group.id) +
                                       " not viable while it is bound",
        .rule_source = ownership ? "drivers/iommu/iommu.c iommu_group_claim_dma_owner, "
                                   "iommu_device_claim_dma_owner (5.19+)"
                                 : "drivers/vfio/vfio.c vfio_dev_viable (before 5.19)",
        .fix = bind_to_vfio(d)});
  }
}

// Each device's `direct` regions as the kernel has them (the kernel policy: the rule is the
// kernel's, whatever policy the ranges use).
Result<std::vector<AssignFinding>> direct_findings(const Host& host, const Group& group) {
  std::vector<AssignFinding> out;
  bool core_rule = host.kernel >= kRequireDirect;
  const IommuUnit* unit = host.iommu_of(group);
  bool intel = unit != nullptr && driver_name(unit->driver) == "intel";
  if (!core_rule && !intel) return out;
  for (const Device& d : group.devices) {
    IOVAMAP_ASSIGN_OR_RETURN(std::vector<ReservedRegion> regions,
                             device_regions_for(host, group, d, Policy::kKernel));
    for (const ReservedRegion& r : regions) {
      if (r.type != RegionType::kDirect) continue;
      std::string where = provenance_text(r.provenance);
      std::string evidence = "reserved region " + to_string(r.range()) + " direct" +
                             (where.empty() ? "" : " (" + where + ")");
      const DirectRule& rule = core_rule ? kCoreDirectRule : kIntelRmrrRule;
      out.push_back(AssignFinding{.rule = rule.rule,
                                  .error_number = rule.error_number,
                                  .group_id = group.id,
                                  .device = d.name,
                                  .evidence = std::move(evidence),
                                  .kernel_says = d.name + ": " + rule.message,
                                  .rule_source = rule.source,
                                  .fix = rule.fix});
      break;  // one region is enough to refuse the device
    }
  }
  return out;
}

// MSI isolation, as the container models check it (msi.h): a refusal unless the module's
// allow_unsafe_interrupts is set.
std::vector<AssignFinding> msi_findings(const Host& host, const Group& group,
                                        ContainerRules rules) {
  bool fd = rules == ContainerRules::kIommufd;
  bool unsafe_allowed = fd ? host.iommufd_allow_unsafe_interrupts.value_or(false)
                           : host.type1_allow_unsafe_interrupts.value_or(false);
  MsiVerdict msi = group_msi_isolation(host, group);
  if (msi.isolated || unsafe_allowed) return {};
  // On AMD the driver may have turned remapping off over the IVRS: then say why, and give the
  // kernel's own fix (ivrs_ioapic) before the risk parameter.
  std::optional<AmdIntremapCheck> amd = amd_intremap_check(host);
  bool amd_off = amd && amd->remapping_off;
  std::string fix = msi_advice(fd ? "iommufd" : "vfio_iommu_type1");
  return {AssignFinding{
      .rule = AssignRule::kMsiNotIsolated,
      .error_number = EPERM,
      .group_id = group.id,
      .device = group.devices.empty() ? "" : group.devices.front().name,
      .evidence = "MSIs not isolated (" + msi.why + ")" +
                  (amd_off && msi.why != amd->why ? "; " + amd->why : ""),
      .kernel_says = fd ? "VFIO_DEVICE_BIND_IOMMUFD fails with EPERM (the kernel logs nothing)"
                        : "VFIO_SET_IOMMU fails with EPERM; the log says: vfio_iommu_type1_attach_"
                          "group: No interrupt remapping support.  Use the module param "
                          "\"allow_unsafe_interrupts\" to enable VFIO IOMMU support on this "
                          "platform",
      .rule_source = fd ? "drivers/iommu/iommufd/device.c iommufd_device_bind (6.2+)"
                        : "drivers/vfio/vfio_iommu_type1.c vfio_iommu_type1_attach_group; "
                          "iommu_group_has_isolated_msi (6.3+; before, irq remapping)",
      .fix = amd_off ? amd->fix + "; or " + fix : fix}};
}

std::string refusal_text(const AssignFinding& f) {
  return "group " + std::to_string(f.group_id.value_or(0)) + ", " + f.device + ": " + f.evidence +
         " (" + f.rule_source + "); " + f.fix;
}

}  // namespace

std::string_view assign_rule_name(AssignRule rule) {
  switch (rule) {
    case AssignRule::kHostDriver:
      return "host-driver";
    case AssignRule::kFirmwareDirect:
      return "firmware-direct";
    case AssignRule::kRmrrLocked:
      return "rmrr-locked";
    case AssignRule::kMsiNotIsolated:
      return "msi-not-isolated";
    case AssignRule::kNoIommufd:
      return "no-iommufd";
  }
  return "unknown";
}

bool AssignReport::accepted() const {
  for (const AssignFinding& f : findings)
    if (f.blocks) return false;
  return true;
}

bool driver_manages_dma(std::string_view driver) {
  // vfio-pci, its variant drivers (mlx5_vfio_pci, hisi_acc_vfio_pci, virtio-vfio-pci, ...) and
  // the other VFIO bus drivers all carry "vfio" in their names.
  return driver == "pci-stub" || driver == "pcieport" || driver.find("vfio") != std::string::npos;
}

Status ownership_refusal(const Host& host, const Group& group, ContainerRules) {
  IOVAMAP_ASSIGN_OR_RETURN(std::vector<AssignFinding> direct, direct_findings(host, group));
  if (direct.empty()) return {};
  const AssignFinding& f = direct.front();
  return make_refusal(f.error_number, refusal_text(f));
}

Result<AssignReport> assess_assignment(const Host& host, const std::vector<uint32_t>& group_ids,
                                       ContainerRules rules) {
  AssignReport report{.rules = rules, .group_ids = group_ids};
  if (rules == ContainerRules::kIommufd && host.kernel < kIommufd)
    report.findings.push_back(
        AssignFinding{.rule = AssignRule::kNoIommufd,
                      .error_number = ENOENT,
                      .evidence = "kernel " + host.kernel.to_string(),
                      .kernel_says = "/dev/iommu does not exist",
                      .rule_source = "drivers/iommu/iommufd (6.2+)",
                      .fix = "a 6.2 or newer kernel built with CONFIG_IOMMUFD (6.6+ with "
                             "CONFIG_VFIO_DEVICE_CDEV to bind VFIO devices), or VFIO type1"});
  for (uint32_t id : group_ids) {
    const Group* group = host.find_group(id);
    if (group == nullptr)
      return make_error(ENOENT, "no IOMMU group " + std::to_string(id) + " in " + host.source);
    // type1 claims DMA ownership (VFIO_GROUP_SET_CONTAINER: bound drivers, then the blocking
    // domain) before it attaches (VFIO_SET_IOMMU: MSI isolation); iommufd checks MSI isolation
    // first, when the device is bound (iommufd_device_bind), then claims ownership.
    std::vector<AssignFinding> msi = msi_findings(host, *group, rules);
    if (rules == ContainerRules::kIommufd)
      report.findings.insert(report.findings.end(), msi.begin(), msi.end());
    host_driver_findings(host, *group, rules, &report.findings);
    IOVAMAP_ASSIGN_OR_RETURN(std::vector<AssignFinding> direct, direct_findings(host, *group));
    report.findings.insert(report.findings.end(), direct.begin(), direct.end());
    if (rules == ContainerRules::kType1)
      report.findings.insert(report.findings.end(), msi.begin(), msi.end());
  }
  return report;
}

}  // namespace iovamap
