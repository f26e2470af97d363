// An iommufd IOAS (I/O address space) as drivers/iommu/iommufd/ keeps it.
//
// With iommufd a program creates an IOAS, attaches devices (each through a paging domain,
// "hwpt"), and asks IOMMU_IOAS_IOVA_RANGES which IOVAs it may use. Unlike VFIO type1 nothing is
// merged: the IOAS holds an interval tree of reservations, each owned by a device (its own
// reserved regions, not its group's) or by a domain (what lies outside its aperture), and the
// usable IOVAs are the holes of that tree over [0, 2^64-1]. `IoasModel` keeps the same tree and
// answers IOMMU_IOAS_IOVA_RANGES, IOMMU_IOAS_ALLOW_IOVAS and fixed-IOVA IOMMU_IOAS_MAP with the
// kernel's results and errnos.
//
// Example:
//   IoasModel ioas;
//   ioas.iova_ranges(8).ranges;   // [0, 2^64-1], alignment 1 (nothing attached)
//   IoasDevice dev{.name = "0000:01:00.0",
//                  .regions = {ReservedRegion::make({0xfee00000, 0xfeefffff}, RegionType::kMsi)}};
//   ioas.attach(dev, IoasDomain{.key = "dmar0", .aperture = {0, 0x7fffffffff},
//                               .pgsize_bitmap = 0x40201000});
//   ioas.iova_ranges(8).ranges;   // [0, 0xfedfffff], [0xfef00000, 0x7fffffffff]; alignment 4 KiB
//
// Sharp edges:
//   - Devices attached to one domain `key` share its aperture reservations; the first device's
//     IoasDomain defines the domain, later ones only name it.
//   - The IOAS does not know groups: pass each device's own regions (iommu_get_resv_regions),
//     not the group-merged list (iommufd used the group list before the v6.5 rework,
//     "iommufd: Keep track of each device's reserved regions instead of groups").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "iovamap/host.h"
#include "iovamap/range.h"
#include "iovamap/region.h"
#include "iovamap/result.h"
#include "iovamap/vfio_info.h"

namespace iovamap {

struct IoasDevice {
  std::string name;                     // for messages: "0000:01:00.0"
  std::vector<ReservedRegion> regions;  // the device's own regions, driver order
  // Whether its group's MSIs are isolated (iommu_group_has_isolated_msi, see msi.h).
  bool msi_isolated = true;
};

struct IoasDomain {
  std::string key;  // devices naming the same key share this paging domain
  Range aperture = Range::all();
  uint64_t pgsize_bitmap = kPageSize;
};

// The reply of IOMMU_IOAS_IOVA_RANGES.
struct IovaRangesReply {
  std::vector<Range> ranges;  // the first min(capacity, num_iovas) ranges, as copied out
  uint32_t num_iovas = 0;     // how many there are in all
  uint64_t alignment = 1;     // out_iova_alignment
  Status status;              // EMSGSIZE when num_iovas > capacity (the rest is still filled)
};

class IoasModel {
 public:
  // `kernel` places the MSI isolation check (bind from v6.6, attach before);
  // `allow_unsafe_interrupts` is iommufd's module parameter of that name.
  explicit IoasModel(KernelVersion kernel = KernelVersion::newest(),
                     bool allow_unsafe_interrupts = false)
      : kernel_(kernel), allow_unsafe_interrupts_(allow_unsafe_interrupts) {}

  // Binds `device` (iommufd_device_bind) and attaches it through `domain`
  // (iommufd_device_attach with a paging hwpt). In order:
  //   EINVAL      the device is already attached;
  //   EPERM       (v6.6+, at bind) its MSIs are not isolated and unsafe interrupts are not
  //               allowed;
  //   EADDRINUSE  one of its regions (direct-relaxable skipped) overlaps a mapping or an
  //               allowed range (iopt_reserve_iova);
  //   EINVAL      it reports MSI and SW_MSI together, or two SW_MSI windows;
  //   EPERM       (before v6.6, iommufd_device_setup_msi at attach) the same MSI check;
  //   for a new domain (iopt_table_add_domain):
  //   EINVAL      its smallest page size is above PAGE_SIZE;
  //   EADDRINUSE  a mapping is not aligned to the new alignment;
  //   EADDRINUSE  a mapping or an allowed range lies outside the aperture.
  // On error nothing changes.
  Status attach(const IoasDevice& device, const IoasDomain& domain);
  // Removes the device's reservations; the domain goes when its last device leaves, and the
  // alignment is recomputed. ENOENT for an unknown device.
  Status detach(const std::string& device);

  // IOMMU_IOAS_MAP with IOMMU_IOAS_MAP_FIXED_IOVA (iopt_check_iova and friends):
  //   EOVERFLOW   iova or length is 2^64-1 (the ioctl's own guard), or the range wraps;
  //   EINVAL      length 0, or iova or length not a multiple of the alignment;
  //   EINVAL      the range touches a reservation;
  //   EEXIST      it overlaps a mapping.
  Status map(uint64_t iova, uint64_t length);

  // IOMMU_IOAS_ALLOW_IOVAS (iommufd_ioas_load_iovas, iopt_set_allow_iova): EINVAL when a
  // range has start >= last or overlaps an earlier one of the list; EADDRINUSE when one meets a
  // reservation. An empty list lifts the restriction. On error the old list stays.
  Status allow_iovas(const std::vector<IommuIovaRange>& ranges);

  // IOMMU_IOAS_IOVA_RANGES with room for `capacity` ranges. The allowed list plays no part.
  IovaRangesReply iova_ranges(uint32_t capacity) const;
  // All holes of the reservation tree, lowest first.
  std::vector<Range> usable() const;
  uint64_t iova_alignment() const { return alignment_; }
  // The iova_pgsizes iommufd's VFIO compatibility layer reports (iommufd_get_pagesizes).
  uint64_t compat_pgsizes() const;
  CompatInfoState compat_info_state() const;

 private:
  struct Reservation {
    Range range;
    std::string owner;  // "dev:<name>" or "dom:<key>"
    std::string why;    // for messages
  };
  struct DomainState {
    IoasDomain domain;
    std::vector<std::string> devices;
  };

  bool reserved_overlaps(const Range& r, const Reservation** hit = nullptr) const;
  const Range* mapping_overlapping(const Range& r) const;
  const Range* allowed_overlapping(const Range& r) const;
  Status reserve(const Range& r, const std::string& owner, const std::string& why);
  void unreserve(const std::string& owner);
  void recompute_alignment();

  Status msi_check(const IoasDevice& device) const;

  KernelVersion kernel_;
  bool allow_unsafe_interrupts_;
  std::vector<Reservation> reserved_;
  std::vector<DomainState> domains_;
  std::vector<std::pair<std::string, std::string>> devices_;  // device -> domain key
  std::vector<Range> mappings_;
  std::vector<Range> allowed_;
  uint64_t alignment_ = 1;
};

}  // namespace iovamap
