// A VFIO type1 container, step by step, as drivers/vfio/vfio_iommu_type1.c runs it.
//
// A VFIO user opens a container, attaches IOMMU groups to it, then maps memory at IOVAs of
// its choice with VFIO_IOMMU_MAP_DMA. The kernel keeps a list of usable IOVA ranges (the
// "iova list") that every attach narrows: to the new domain's aperture and around the group's
// reserved regions. `Type1Container` replays that sequence with the kernel's exact outcomes:
// the same list, node for node, the same errno, and a message that says which group and which
// region are to blame.
//
// Example:
//   Type1Container c;
//   Type1Group g{.id = 7, .aperture = {0, 0x7fffffffff}, .pgsize_bitmap = 0x40201000,
//                .domain_key = "dmar0"};
//   g.regions.push_back(ReservedRegion::make({0xfee00000, 0xfeefffff}, RegionType::kMsi));
//   Status s = c.attach(g);        // ok
//   c.iova_list();                 // [0, 0xfedfffff], [0xfef00000, 0x7fffffffff]
//   c.map_dma(0xfee00000, 0x1000); // EINVAL: inside the MSI window of group 7
//
// Quirks reproduced (each has a test that fails if it is modelled wrongly):
//   - trim: when a new aperture starts exactly at a node's last address (or ends exactly at a
//     node's first), the kernel deletes that node instead of keeping one address;
//   - detach rebuilds the list from the current first node's start and last node's end, which
//     are widened to the remaining domains' apertures only when a domain went away;
//   - before v6.18, ranges reaching 2^64-1 wrap in the kernel's overlap search: a request, or
//     an existing mapping, that ends at 2^64-1 is not seen (no EEXIST, no conflict). The
//     kernel searches a red-black tree, so when a request overlaps both such a mapping and a
//     lower one, whether the lower one is found depends on the tree's shape; this model finds it.
//   - before v5.4 type1 kept no iova list: attach checks neither apertures nor regions and
//     MAP_DMA accepts any aligned range (the list stays empty).
//   - MAP_DMA here is vfio_dma_do_map's checks only; pinning and the IOMMU driver's own
//     iommu_map can still fail on a real kernel.
//
// Complexity: MAP_DMA is O(log n + log m) for n mappings and m list nodes (the mappings are
// indexed by address, the list is searched by bisection); attach is O(r log n + m) for r
// regions.
//
// Sharp edges:
//   - `vaddr` alignment matters to MAP_DMA; pass it (the default is the iova itself).
//   - Group membership in a domain is decided by `domain_key`: groups with equal non-empty keys
//     share one domain, as type1 shares a domain between groups behind one IOMMU driver.
//   - Detaching the last group ends the container (VFIO releases the IOMMU backend); this
//     model then starts over empty, as a new VFIO_SET_IOMMU would.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "iovamap/host.h"
#include "iovamap/range.h"
#include "iovamap/region.h"
#include "iovamap/result.h"
#include "iovamap/vfio_info.h"

namespace iovamap {

// What the kernel knows about a group when type1 attaches it.
struct Type1Group {
  uint32_t id = 0;
  Range aperture = Range::all();        // the paging domain's geometry
  std::vector<ReservedRegion> regions;  // iommu_get_group_resv_regions, in kernel order
  uint64_t pgsize_bitmap = 0;           // the domain's page sizes
  std::string domain_key;               // equal keys can share a domain ("" never shares)
  // False for an mdev group without an IOMMU behind it: it joins the external domain and
  // leaves the iova list alone.
  bool iommu_backed = true;
  // Whether the group's MSIs are isolated (interrupt remapping, or an MSI controller that
  // isolates); without it the attach fails with EPERM unless the container allows unsafe
  // interrupts (virtio-iommu on x86 has no interrupt remapping).
  bool msi_isolated = true;
};

struct Type1Mapping {
  uint64_t iova = 0;
  uint64_t size = 0;  // bytes, > 0
  Range range() const { return Range{iova, iova + size - 1}; }
};

class Type1Container {
 public:
  // `kernel` selects version-dependent behaviour (MAP_DMA overflow errno and the 2^64-1 wrap);
  // `dma_entry_limit` is the module parameter (default U16_MAX).
  // `allow_unsafe_interrupts` is the module parameter of the same name.
  explicit Type1Container(KernelVersion kernel = KernelVersion::newest(),
                          uint32_t dma_entry_limit = 65535, bool allow_unsafe_interrupts = false);

  // vfio_iommu_type1_attach_group. Errors, in the kernel's order of checks:
  //   EINVAL  the group is already attached;
  //   EINVAL  the aperture misses the current list, or a mapping lies outside it;
  //   EINVAL  a mapping overlaps one of the group's regions other than direct-relaxable;
  //   EINVAL  nothing usable is left after cutting the regions out;
  //   EPERM   its MSIs are not isolated and unsafe interrupts are not allowed.
  // On error the container is unchanged.
  Status attach(const Type1Group& group);

  // vfio_iommu_type1_detach_group (see the quirks in the file comment). ENOENT if the group is
  // not attached (the kernel never gets that far: VFIO checks membership first).
  Status detach(uint32_t group_id);

  // vfio_dma_do_map's checks; on success the mapping is recorded. Errors, in order:
  //   EINVAL  no group attached (the container has no IOMMU backend yet);
  //   EINVAL  size 0; (v6.18+: EOVERFLOW) iova or vaddr range wraps past 2^64-1 [v6.18+
  //           checks wrap before alignment];
  //   EINVAL  size, iova or vaddr not aligned to the smallest page size;
  //   EINVAL  (before v6.18) wrap;
  //   EEXIST  overlaps an existing mapping;
  //   ENOSPC  the mapping budget (dma_entry_limit) is used up;
  //   EINVAL  not inside one node of the iova list (any range passes when the list is empty).
  Status map_dma(uint64_t iova, uint64_t size);
  Status map_dma(uint64_t iova, uint64_t size, uint64_t vaddr);

  // The usable list, node for node, as VFIO_IOMMU_GET_INFO reports it.
  const std::vector<Range>& iova_list() const { return iova_list_; }
  // iommu->pgsize_bitmap: the AND of the domains' page sizes with sub-page sizes folded into
  // 4 KiB; 0 before any IOMMU-backed group attached.
  uint64_t pgsize_bitmap() const { return pgsize_bitmap_; }
  uint32_t dma_avail() const { return dma_avail_; }
  // The mappings made, in address order: O(n), for tests and reports.
  std::vector<Type1Mapping> mappings() const;
  size_t mapping_count() const { return mappings_.size() + top_mappings_.size(); }
  // Ids of attached groups, in attach order.
  std::vector<uint32_t> group_ids() const;
  // The state VFIO_IOMMU_GET_INFO reports (see vfio_info.h).
  Type1InfoState info_state() const;

 private:
  struct Domain {
    std::string key;
    Range aperture;
    uint64_t pgsize_bitmap = 0;
    std::vector<Type1Group> groups;
  };

  // The list checks of attach (aperture, regions against mappings) and the narrowed list.
  Status check_and_narrow(const Type1Group& group, std::vector<Range>& copy) const;
  std::optional<Type1Mapping> find_dma_mapping(const Range& range) const;
  bool list_holds(const Range& range) const;
  void clear_mappings();
  void update_pgsize_bitmap();
  void reset();

  KernelVersion kernel_;
  uint32_t dma_entry_limit_;
  bool allow_unsafe_interrupts_;
  std::vector<Domain> domains_;       // in the kernel's list order (newest first)
  std::vector<Type1Group> external_;  // mdev groups without an IOMMU
  std::vector<uint32_t> attach_order_;
  std::vector<Range> iova_list_;
  // iova -> size of every mapping but those ending at 2^64-1, which are pairwise disjoint;
  // those (which kernels before 6.18 never find again, so they may overlap) on their own.
  std::map<uint64_t, uint64_t> mappings_;
  std::vector<Type1Mapping> top_mappings_;
  uint64_t pgsize_bitmap_ = 0;
  uint32_t dma_avail_;
};

// The first release whose type1 keeps an IOVA list ("vfio/type1: Check reserved region conflict
// and update iova list", 5.4): before it, attach checks neither apertures nor regions and
// MAP_DMA takes any aligned range.
inline constexpr KernelVersion kType1IovaListFirst{5, 4};

// The pieces of vfio_iommu_type1.c's list arithmetic, exposed for tests and for callers that
// want one step on its own. Each works on a list of disjoint sorted nodes.

// vfio_iommu_aper_resize: trims `list` to [start, end] with the kernel's node deletion quirk;
// an empty list becomes the single node [start, end].
void type1_aperture_resize(std::vector<Range>& list, uint64_t start, uint64_t end);
// vfio_iommu_resv_exclude: cuts every region except direct-relaxable out of `list`. EINVAL
// (naming `what`) when nothing is left.
Status type1_exclude_regions(std::vector<Range>& list, const std::vector<ReservedRegion>& regions,
                             const std::string& what);

}  // namespace iovamap
