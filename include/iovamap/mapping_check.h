// Checking planned DMA mappings against a container, one at a time, as the kernel would answer.
//
// A VMM or userspace driver plans mappings (guest RAM, BARs, buffers) and wants to know before
// it runs which ones VFIO_IOMMU_MAP_DMA will refuse, why, and where they would fit instead.
// A MappingChecker holds one modelled VFIO type1 container with the given groups attached and
// replays each mapping on it, in order, so earlier mappings count (EEXIST, the mapping budget).
// Each verdict carries the kernel's errno, the reason (the reserved regions the mapping meets,
// with their provenance) and the nearest aligned placement that would work now.
//
// Example:
//   Result<MappingChecker> c = MappingChecker::create(host, {7}, Policy::kEffective);
//   if (!c) return c.error();      // kRefused: the attach fails (EPERM: MSIs not isolated)
//   MappingVerdict v = c->check({.iova = 0xfee00000, .size = 0x1000});
//   v.refusal->code;               // EINVAL: inside the MSI window of group 7
//   *v.nearest;                    // 0xfef00000
//
// Sharp edges:
//   - Verdicts are MAP_DMA's checks (vfio_type1.h): pinning memory can still fail for real.
//   - A mapping that succeeded stays: the checker's state grows with the live mappings only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "iovamap/container.h"
#include "iovamap/host.h"
#include "iovamap/map_file.h"
#include "iovamap/policy.h"
#include "iovamap/range.h"
#include "iovamap/result.h"

namespace iovamap {

class FreeExtents;  // private (src/free_extents.h)

struct MappingVerdict {
  PlannedMapping mapping;
  // Empty when MAP_DMA accepts it; else ErrorKind::kRefused with the kernel's errno and the
  // reason, naming the regions (and their provenance) the mapping meets.
  std::optional<Error> refusal;
  // Where `mapping.size` bytes fit, aligned, closest to `mapping.iova`, clear of the mappings
  // made so far; empty when it was accepted, when no placement fits, or when the budget is
  // spent.
  std::optional<uint64_t> nearest;
  // ENOSPC: the container's mapping budget (dma_entry_limit) is used up, so no placement works
  // while the earlier mappings stay.
  bool budget_spent = false;

  bool ok() const { return !refusal; }
};

class MappingChecker {
 public:
  // A container holding `group_ids` (in attach order) under `policy`. Errors: bad input
  // (kInput: no such group, ...) or the attach the kernel would refuse (kRefused).
  static Result<MappingChecker> create(const Host& host, const std::vector<uint32_t>& group_ids,
                                       Policy policy);

  // MAP_DMA of `mapping` on the container as it is now; recorded when accepted. A size of 0 or
  // one that passes 2^64-1 is refused as the kernel refuses it.
  MappingVerdict check(const PlannedMapping& mapping);

  // What the model could not know (unknown page sizes or aperture).
  const std::vector<std::string>& warnings() const { return model_.warnings; }
  const std::vector<uint32_t>& group_ids() const { return group_ids_; }
  // How many mappings were accepted so far.
  size_t accepted() const { return model_.container.mapping_count(); }

 private:
  MappingChecker(Type1Model model, std::vector<uint32_t> group_ids);
  std::string explain_miss(const Range& m) const;
  std::optional<uint64_t> nearest_placement(uint64_t iova, u128 size) const;
  void take_free(const Range& r);
  void add_free(const Range& r);

  Type1Model model_;
  std::vector<uint32_t> group_ids_;
  uint64_t alignment_ = 4096;
  // Every region that bars IOVAs, sorted by start, with the running maximum of their ends, so
  // the ones a mapping meets are found without looking at all of them.
  std::vector<RangeStop> stops_;
  std::vector<uint64_t> max_last_;
  // The usable space not yet mapped, each extent cut to whole aligned pages (a placement is
  // aligned, so nothing else can hold one), searchable by position and size.
  std::shared_ptr<FreeExtents> free_;
};

}  // namespace iovamap
