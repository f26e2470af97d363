// Policies: which reserved regions a group has, and why.
//
// The same host can be answered four ways:
//   kernel     what the running kernel reports: the driver's and firmware's regions, merged
//              by the kernel's insertion (RegionList, MergeRule::kKernel). Byte-exact with
//              sysfs reserved_regions and, through the type1 model, with VFIO's IOVA ranges.
//   rfc        the 2020 RFC "iommu: Account for dma_mask and iommu aperture in IOVA reserved
//              regions", patch 2/3 exactly as written: each device's list gains
//              [aperture_end+1, 2^64-1] and [0, aperture_start-1] (only while the device has a
//              domain) before the driver's regions, and [dma_mask+1, 2^64-1] after them; if the
//              geometry cannot be read the device's list is empty. No overflow fix, so two
//              reserved regions ending at 2^64-1 show as two overlapping lines.
//   rfc-fixed  the same with the RFC's patch 1/3 (MergeRule::kNoOverflowQuirk).
//   effective  iovamap's answer, the default: the truly usable space. The kernel's regions,
//              plus everything outside the aperture, plus everything above each device's
//              trustworthy DMA limit (dma_limit.h: declared or known device, never a stale
//              dma_mask_bits), merged canonically, every region carrying its provenance.
//
// Example:
//   Result<GroupModel> m = model_group(host, *host.find_group(7), Policy::kKernel);
//   if (m) std::cout << m->regions.to_sysfs();   // what
//   /sys/kernel/iommu_groups/7/reserved_regions holds
//
// Sharp edges: group order matters (Group::devices is the kernel's order). Older kernels
// (5.10) collect regions from every device of a group; newer ones (6.1 on) stop at the first
// device without IOMMU ops (`Device::has_iommu`).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/host.h"
#include "iovamap/iommu_driver.h"
#include "iovamap/region.h"
#include "iovamap/result.h"

namespace iovamap {

enum class Policy : uint8_t { kKernel, kRfc, kRfcFixed, kEffective };
// "kernel", "rfc", "rfc-fixed", "effective".
std::string_view policy_name(Policy policy);
Result<Policy> parse_policy(std::string_view name);

// The first kernel release whose iommu_get_group_resv_regions() (drivers/iommu/iommu.c) stops at
// the first device without IOMMU ops: the check came with the 5.19 rework that made the region
// callback go through the device's own ops ("non-API groups" guard). 5.10 has no check, 6.1 has.
inline constexpr KernelVersion kGroupStopsAtDeviceWithoutIommu{5, 19};

// What the model says about one group under one policy.
struct GroupModel {
  uint32_t group_id = 0;
  RegionList regions;                  // the group's reserved regions, in kernel order
  std::optional<Aperture> aperture;    // the paging-domain aperture; empty when not derivable
  std::optional<uint64_t> page_sizes;  // the paging-domain page sizes; empty when not derivable
  std::vector<std::string> warnings;   // things a user should know (unknown aperture, ...)
};

// The regions of one device under `policy`, in the order iommu_get_resv_regions() (or the RFC's
// version of it) would return them, before the group-level insertion.
Result<std::vector<ReservedRegion>> device_regions_for(const Host& host, const Group& group,
                                                       const Device& device, Policy policy);

// The model of `group` under `policy`. Fails only on inconsistent input (a device naming an
// IOMMU unit the host does not have); an aperture that cannot be derived is a warning, except
// under the rfc policies, where (as in the RFC) the device lists are then empty.
Result<GroupModel> model_group(const Host& host, const Group& group, Policy policy);

// True when the group's devices have a domain in the sense of the RFC: the group's type is a
// domain type (DMA, DMA-FQ, identity, unmanaged), or not given (a topology file that does not
// say is taken to describe a DMA group). sysfs "unknown" (no default domain) and "blocked" do not.
bool group_has_domain(const Group& group);

// For hosts read from a running kernel: compares each group's observed reserved_regions with
// the kernel-policy model and attaches every observed region the model does not produce to the
// group's first device as a firmware region (Origin::kObserved), so that the model reproduces
// what the kernel showed; behind a virtio-iommu, whose PROBE answers each endpoint alike, to
// every device. Returns one note per group where it had to do so, in group order.
struct ObservedNote {
  uint32_t group_id = 0;
  std::string message;  // "group 7: 1 observed region(s) not explained by the driver model; ..."
};
std::vector<ObservedNote> explain_observed_regions(Host& host);

}  // namespace iovamap
