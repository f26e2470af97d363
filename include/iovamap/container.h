// Containers: IOMMU groups used together, under a policy.
//
// A VMM or userspace driver puts one or more groups into one VFIO type1 container (or attaches
// their devices to one iommufd IOAS) and then maps memory. What it may map depends on every
// group in it: the intersection of the apertures, minus every group's reserved regions. These
// functions build the per-group models (policy.h) and replay the attaches in order on the
// container models (vfio_type1.h, iommufd_ioas.h), so the answer is the kernel's, node for
// node, with the kernel's errno when an attach would fail.
//
// Example:
//   Result<Type1Model> m = model_type1(host, {7, 8}, Policy::kKernel);
//   if (!m) return m.error();                  // e.g. EINVAL: group 8's aperture misses ...
//   to_sysfs_lines(m->container.iova_list());  // what VFIO_IOMMU_GET_INFO would report
//
// `describe_container` is the one call the tool, the C API and the VM check use: it models the
// container under either rules, tells a refusal (the kernel would say no: a value, with the
// kernel's errno) from bad input (an error), and says for each usable range what ends it.
//
//   Result<ContainerReport> r = describe_container(host, {7}, Policy::kEffective,
//                                                  ContainerRules::kType1);
//   if (!r) return r.error();                  // bad input: no such group, ...
//   if (r->refusal) ...                        // EPERM: MSIs not isolated, with what to do
//   for (const UsableRange& u : r->usable) u.above;   // e.g. the MSI window of group 7
//
// Sharp edges: the order of `group_ids` is the attach order, and it can matter (the trim
// quirk). Groups share a type1 domain when they sit behind the same IOMMU driver with the same
// aperture and page sizes (type1 tries the existing domains first). An unknown aperture is
// taken as [0, 2^64-1] with a warning; unknown page sizes as 4 KiB with a warning.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/host.h"
#include "iovamap/iommufd_ioas.h"
#include "iovamap/msi.h"
#include "iovamap/policy.h"
#include "iovamap/vfio_type1.h"

namespace iovamap {

struct Type1Model {
  Policy policy = Policy::kEffective;
  std::vector<GroupModel> groups;  // in attach order
  Type1Container container;        // after every attach
  std::vector<std::string> warnings;
};

// Attaches `group_ids`, in order, to a new type1 container. ENOENT for a group the host does
// not have, EINVAL for an empty or repeated list; an attach the kernel would refuse returns the
// kernel's errno with a message naming the group and the reason.
Result<Type1Model> model_type1(const Host& host, const std::vector<uint32_t>& group_ids,
                               Policy policy);

struct IoasModelResult {
  Policy policy = Policy::kEffective;
  std::vector<GroupModel> groups;  // in attach order
  IoasModel ioas;                  // after attaching every device of every group
  std::vector<std::string> warnings;
};

// Attaches every device of `group_ids`, in order, to one iommufd IOAS, each device with its
// own regions under `policy` (iommufd does not merge per group). Errors as model_type1.
Result<IoasModelResult> model_iommufd(const Host& host, const std::vector<uint32_t>& group_ids,
                                      Policy policy);

// An attach error as a user should read it: for EPERM (MSIs not isolated) it adds where that
// answer came from and what to do about it (msi_advice for `module`, "vfio_iommu_type1" or
// "iommufd"); any other error comes back unchanged.
Error msi_explained(Error e, const MsiVerdict& msi, std::string_view module);

enum class ContainerRules : uint8_t {
  kType1,    // a VFIO type1 container (vfio_type1.h)
  kIommufd,  // an iommufd IOAS (iommufd_ioas.h)
};
// "vfio-type1", "iommufd".
std::string_view rules_name(ContainerRules rules);

// One thing that stops a usable range: it covers the address just outside the range.
struct RangeStop {
  enum class Kind : uint8_t {
    kAperture,   // outside a group's (or an iommufd domain's) aperture
    kRegion,     // a reserved region of a group (type1) or a device (iommufd)
    kListQuirk,  // nothing covers it: type1 dropped a node the aperture starts or ends on
  };
  Kind kind = Kind::kRegion;
  uint32_t group_id = 0;
  std::string device;                  // iommufd: the device the region belongs to; "" otherwise
  Range range;                         // the region, or the part of the space outside the aperture
  std::optional<RegionType> type;      // kRegion only
  std::vector<Provenance> provenance;  // the region's, or the aperture's
};

struct UsableRange {
  Range range;
  std::vector<RangeStop> below;  // what covers range.first - 1; empty when first is 0
  std::vector<RangeStop> above;  // what covers range.last + 1; empty when last is 2^64-1
};

// One container holding some groups, as the modelled kernel would build it.
struct ContainerReport {
  ContainerRules rules = ContainerRules::kType1;
  Policy policy = Policy::kEffective;
  std::vector<uint32_t> group_ids;  // in attach order
  // The attach the kernel would refuse (ErrorKind::kRefused, the kernel's errno, what to do);
  // `usable` is then empty.
  std::optional<Error> refusal;
  std::vector<UsableRange> usable;  // type1: the iova list node for node; iommufd: the holes
  uint64_t alignment = 4096;        // type1: the smallest page size; iommufd: the alignment
  std::vector<std::string> warnings;
};

// Models one container holding `group_ids` under `policy` and `rules`, with the stops of each
// usable range and a warning when the usable space ends below the host's RAM top. Errors are
// bad input only (ENOENT no such group, EINVAL empty or repeated list, a dangling IOMMU name);
// a refusal is in the report.
Result<ContainerReport> describe_container(const Host& host, const std::vector<uint32_t>& group_ids,
                                           Policy policy, ContainerRules rules);

// The warning for a container whose usable space ends below the host's RAM top (RAM above it
// cannot be DMA-mapped at its own address, as a VMM maps guest RAM); nullopt when it does not
// or the RAM top is unknown.
std::optional<std::string> ram_top_warning(const Host& host, const std::vector<Range>& usable);

// What model_type1 attaches for one modelled group: its aperture (all of 2^64 when unknown),
// regions, page sizes (4 KiB when unknown), the domain it can share, and whether its MSIs are
// isolated (msi.h). `model` must be model_group()'s answer for `group`.
Type1Group type1_group(const Host& host, const Group& group, const GroupModel& model);

// The iommufd domain model_iommufd attaches a modelled group's devices to (same defaults).
IoasDomain ioas_domain(const Host& host, const Group& group, const GroupModel& model);

}  // namespace iovamap
