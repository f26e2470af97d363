// Assignability: will VFIO (type1) and iommufd take these devices at all, and if not, why and
// what to change. These are the kernel's answers before the first mapping, when user space
// claims the group's DMA and attaches it; the usable ranges (container.h) come after.
//
// Example:
//   AssignReport r = assess_assignment(host, {7, 8}, ContainerRules::kType1);
//   if (!r.accepted()) for (const AssignFinding& f : r.findings) f.fix;  // what to change
//
// The rules (docs/kernel-rules.md, "Assignability"), in the order the kernel meets them:
//   - DMA ownership (drivers/iommu/iommu.c, iommu_group_claim_dma_owner and
//     iommu_device_claim_dma_owner, 5.19+): every device of the group must be unbound or bound
//     to a driver that manages its own DMA (vfio-pci and its variants, pci-stub, pcieport);
//     one bound to another driver makes the claim fail with EPERM. Before 5.19, VFIO called
//     such a group "not viable" (allowed: no driver, pci-stub, VFIO drivers, bridges).
//   - Firmware 1:1 mappings (__iommu_device_set_domain, 6.6+): a device with a `direct`
//     reserved region (a non-relaxable RMRR, an IVMD unity range, an IORT RMR) cannot be put in
//     the blocking domain that claiming DMA ownership installs: EINVAL, whatever the IOMMU.
//     Before 6.6 only the Intel driver refused such a device, at attach, with EPERM
//     (device_is_rmrr_locked); AMD and ARM took it.
//   - MSI isolation (msi.h): EPERM at attach unless allow_unsafe_interrupts is set.
//   - iommufd exists from 6.2 on (and binding a VFIO device to it needs the VFIO device cdev,
//     6.6+, CONFIG_VFIO_DEVICE_CDEV, which sysfs does not show).
//
// Sharp edges: a finding is either a refusal (`blocks`: the kernel says no, whatever the user
// binds) or a step (`blocks` false: a driver to change first, which the user can do). Which
// device a region *observed* in a group's reserved_regions belongs to, sysfs does not say: it
// is reported against the group's first device. The IOMMU must be on: a host without groups
// has nothing to assess (container.h's callers report that).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/container.h"
#include "iovamap/host.h"
#include "iovamap/result.h"

namespace iovamap {

enum class AssignRule : uint8_t {
  kHostDriver,      // a device of the group is bound to a driver that uses the kernel's DMA API
  kFirmwareDirect,  // a `direct` region and the 6.6+ rule: no blocking domain for the device
  kRmrrLocked,      // a `direct` region behind Intel's driver before 6.6
  kMsiNotIsolated,  // MSIs not isolated and unsafe interrupts not allowed
  kNoIommufd,       // the kernel predates iommufd
};
// "host-driver", "firmware-direct", "rmrr-locked", "msi-not-isolated", "no-iommufd".
std::string_view assign_rule_name(AssignRule rule);

// One reason a container would not take a group, with its evidence and the smallest change
// that helps.
struct AssignFinding {
  AssignRule rule = AssignRule::kHostDriver;
  bool blocks = true;    // a refusal; false: a step the user takes first (bind a driver)
  int error_number = 0;  // the errno the kernel returns, 0 when it gives none
  std::optional<uint32_t> group_id;  // unset: the host as a whole (no-iommufd)
  std::string device;                // the device the evidence is about
  std::string evidence;     // what iovamap saw: "bound to e1000e", "region [..] direct (..)"
  std::string kernel_says;  // the kernel log line or the failing call, "" when silent
  std::string rule_source;  // the kernel function and release the rule comes from
  std::string fix;          // what to change, as a user would do it; "nothing on this kernel..."
};

struct AssignReport {
  ContainerRules rules = ContainerRules::kType1;
  std::vector<uint32_t> group_ids;
  std::vector<AssignFinding> findings;  // refusals and steps, in the kernel's order
  bool accepted() const;                // no finding blocks
};

// What the kernel would say to putting `group_ids` (in order) into one container under
// `rules`. Errors are bad input only (ENOENT: no such group).
Result<AssignReport> assess_assignment(const Host& host, const std::vector<uint32_t>& group_ids,
                                       ContainerRules rules);

// The permanent refusal (a `blocks` finding other than MSI isolation, which the container
// models check themselves) for claiming and attaching `group`, as the kernel's error
// (ErrorKind::kRefused, its errno, the evidence and what to do); Status() when there is none.
// model_type1 and model_iommufd call it before each attach, so every command refuses alike.
Status ownership_refusal(const Host& host, const Group& group, ContainerRules rules);

// True when `driver` (a bound driver's name) manages its own DMA (driver_managed_dma in the
// kernel): vfio-pci and its variant drivers, pci-stub, pcieport, the other VFIO bus drivers.
bool driver_manages_dma(std::string_view driver);

}  // namespace iovamap
