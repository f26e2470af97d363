#include "iovamap/vfio_type1.h"

#include "iovamap/range_set.h"

#include <algorithm>
#include <bit>

namespace iovamap {
namespace {

std::string group_name(uint32_t id) {
  return "group " + std::to_string(id);
}

std::string region_text(const ReservedRegion& r) {
  return std::string(type_name(r.type)) + " region " + to_string(r.range());
}

// MAP_DMA's overflow handling changed in v6.18 ("vfio/type1: sanitize for overflow using
// check_*_overflow", "handle DMA map/unmap up to the addressable limit").
bool has_end_of_space_fixes(KernelVersion k) {
  return k >= KernelVersion{6, 18};
}

}  // namespace

void type1_aperture_resize(std::vector<Range>& list, uint64_t start, uint64_t end) {
  // vfio_iommu_aper_resize, in one pass over the sorted nodes.
  if (list.empty()) {
    list.push_back(Range{start, end});
    return;
  }
  std::vector<Range> out;
  out.reserve(list.size());
  // Front: from the first node, stop at the first node that starts after `start`; a node that
  // holds `start` strictly before its last address is shrunk; every other node visited (wholly
  // below `start`, or ending exactly at `start`: the trim quirk) is deleted.
  size_t i = 0;
  for (; i < list.size(); ++i) {
    Range n = list[i];
    if (start < n.first) break;
    if (start < n.last) {
      n.first = start;
      out.push_back(n);
      ++i;
      break;
    }
  }
  out.insert(out.end(), list.begin() + static_cast<ptrdiff_t>(i), list.end());
  // Back: every node is visited; nodes wholly below `end` stay; a node that holds `end`
  // strictly after its first address is shrunk; every other node (wholly above `end`, or
  // starting exactly at `end`: the trim quirk) is deleted.
  list.clear();
  for (Range n : out) {
    if (end > n.last) {
      list.push_back(n);
    } else if (end > n.first) {
      n.last = end;
      list.push_back(n);
    }
  }
}

Status type1_exclude_regions(std::vector<Range>& list, const std::vector<ReservedRegion>& regions,
                             const std::string& what) {
  // vfio_iommu_resv_exclude: every region but direct-relaxable is cut out (MSI and SW_MSI
  // too); a node that overlaps a region is replaced by the pieces below and above it. The
  // kernel cuts one region at a time; what is left of a node is the same whatever the order:
  // its runs outside the union of the regions. One sweep over the sorted union: O(n log n).
  std::vector<Range> cut;
  for (const ReservedRegion& r : regions) {
    if (r.type == RegionType::kDirectRelaxable) continue;
    uint64_t end = r.start + r.length - 1;  // the kernel's arithmetic: length 0 wraps to all
    cut.push_back(Range{r.start, end});
  }
  const RangeSet union_of_cuts = RangeSet::from_ranges(cut);
  const std::vector<Range>& holes = union_of_cuts.ranges();
  std::vector<Range> out;
  auto hole = holes.begin();
  for (const Range& n : list) {
    while (hole != holes.end() && hole->last < n.first) ++hole;  // the nodes are sorted
    uint64_t from = n.first;
    bool done = false;
    for (auto h = hole; h != holes.end() && h->first <= n.last; ++h) {
      if (h->first > from) out.push_back(Range{from, h->first - 1});
      if (h->last >= n.last) {
        done = true;
        break;
      }
      from = h->last + 1;
    }
    if (!done) out.push_back(Range{from, n.last});
  }
  list = std::move(out);
  if (list.empty())
    return make_refusal(EINVAL,
                        what + ": no usable IOVA left once its reserved regions are cut out");
  return {};
}

Type1Container::Type1Container(KernelVersion kernel, uint32_t dma_entry_limit,
                               bool allow_unsafe_interrupts)
    : kernel_(kernel),
      dma_entry_limit_(dma_entry_limit),
      allow_unsafe_interrupts_(allow_unsafe_interrupts),
      dma_avail_(dma_entry_limit) {}

void Type1Container::reset() {
  domains_.clear();
  external_.clear();
  attach_order_.clear();
  iova_list_.clear();
  clear_mappings();
  pgsize_bitmap_ = 0;
  dma_avail_ = dma_entry_limit_;
}

std::optional<Type1Mapping> Type1Container::find_dma_mapping(const Range& range) const {
  // vfio_find_dma(start, size) with size = range size (the callers never pass 0 here except
  // for a region of all 2^64 addresses, whose length wrapped to 0). The lowest mapping that
  // overlaps, as a walk in address order finds it.
  const bool fixed = has_end_of_space_fixes(kernel_);
  // Before v6.18 the exclusive ends wrap to 0 at 2^64-1: a request ending there compares "left
  // of" every mapping (none is found), and a mapping ending there is "left of" every later
  // request (it is never found; those live in `top_mappings_`).
  if (!fixed && range.last == kMaxAddress) return std::nullopt;
  auto it = mappings_.upper_bound(range.first);
  if (it != mappings_.begin()) {
    auto prev = std::prev(it);
    if (prev->first + (prev->second - 1) >= range.first)
      return Type1Mapping{prev->first, prev->second};
  }
  if (it != mappings_.end() && it->first <= range.last) return Type1Mapping{it->first, it->second};
  if (fixed) {
    for (const Type1Mapping& m : top_mappings_)
      if (m.range().overlaps(range)) return m;
  }
  return std::nullopt;
}

std::vector<Type1Mapping> Type1Container::mappings() const {
  std::vector<Type1Mapping> out;
  for (const auto& [iova, size] : mappings_) out.push_back(Type1Mapping{iova, size});
  out.insert(out.end(), top_mappings_.begin(), top_mappings_.end());
  std::stable_sort(out.begin(), out.end(),
                   [](const Type1Mapping& a, const Type1Mapping& b) { return a.iova < b.iova; });
  return out;
}

void Type1Container::update_pgsize_bitmap() {
  // vfio_update_pgsize_bitmap: AND of the domains' sizes, sub-page sizes folded into PAGE_SIZE.
  uint64_t bitmap = ~uint64_t{0};
  for (const Domain& d : domains_) bitmap &= d.pgsize_bitmap;
  if (bitmap & (kPageSize - 1)) {
    bitmap &= ~(kPageSize - 1);
    bitmap |= kPageSize;
  }
  pgsize_bitmap_ = bitmap;
}

Status Type1Container::attach(const Type1Group& group) {
  std::string who = group_name(group.id);
  if (std::find(attach_order_.begin(), attach_order_.end(), group.id) != attach_order_.end())
    return make_refusal(EINVAL, who + " is already attached to this container");

  if (!group.iommu_backed) {
    // An mdev group without an IOMMU joins the external domain; the list is left alone.
    // Creating the external domain recomputes the page sizes (over the IOMMU domains only).
    if (external_.empty()) update_pgsize_bitmap();
    external_.push_back(group);
    attach_order_.push_back(group.id);
    return {};
  }

  // Before v5.4 type1 kept no iova list and checked neither apertures nor regions.
  bool has_list = kernel_ >= kType1IovaListFirst;
  std::vector<Range> copy = iova_list_;
  if (has_list) {
    IOVAMAP_RETURN_IF_ERROR(check_and_narrow(group, copy));
  }
  // Then interrupt isolation (vfio_iommu_type1_attach_group: iommu_group_has_isolated_msi
  // since v6.3, irq_domain_check_msi_remap or IOMMU_CAP_INTR_REMAP before; see msi.h).
  if (!group.msi_isolated && !allow_unsafe_interrupts_)
    return make_refusal(EPERM, who +
                                   ": its MSIs are not isolated (no interrupt remapping) and "
                                   "vfio_iommu_type1.allow_unsafe_interrupts is off: the kernel "
                                   "refuses the attach");

  // Share a domain with a compatible one (same driver ops, same cache coherency), else make a
  // new one, listed first, and recompute the page sizes.
  auto shared = std::find_if(domains_.begin(), domains_.end(), [&](const Domain& d) {
    return !group.domain_key.empty() && d.key == group.domain_key;
  });
  if (shared != domains_.end()) {
    shared->groups.push_back(group);
  } else {
    domains_.insert(domains_.begin(),
                    Domain{group.domain_key, group.aperture, group.pgsize_bitmap, {group}});
    update_pgsize_bitmap();
  }
  if (has_list) iova_list_ = std::move(copy);
  attach_order_.push_back(group.id);
  return {};
}

Status Type1Container::check_and_narrow(const Type1Group& group, std::vector<Range>& copy) const {
  std::string who = group_name(group.id);
  const Range& aper = group.aperture;
  // vfio_iommu_aper_conflict: the new aperture must meet the list, and no mapping may lie in
  // the part of the list it cuts off.
  if (!copy.empty()) {
    const Range& first = copy.front();
    const Range& last = copy.back();
    if (aper.first > last.last || aper.last < first.first)
      return make_refusal(EINVAL, who + ": its aperture " + to_string(aper) +
                                      " does not meet the container's usable range " +
                                      to_string(Range{first.first, last.last}));
    if (aper.first > first.first) {
      if (std::optional<Type1Mapping> m = find_dma_mapping(Range{first.first, aper.first - 1}))
        return make_refusal(EINVAL, who + ": mapping " + to_string(m->range()) +
                                        " lies below its aperture " + to_string(aper));
    }
    if (aper.last < last.last) {
      if (std::optional<Type1Mapping> m = find_dma_mapping(Range{aper.last + 1, last.last}))
        return make_refusal(EINVAL, who + ": mapping " + to_string(m->range()) +
                                        " lies above its aperture " + to_string(aper));
    }
  }
  // vfio_iommu_resv_conflict: no mapping may overlap a region that is not direct-relaxable.
  for (const ReservedRegion& r : group.regions) {
    if (r.type == RegionType::kDirectRelaxable) continue;
    if (std::optional<Type1Mapping> m = find_dma_mapping(r.range()))
      return make_refusal(
          EINVAL, who + ": mapping " + to_string(m->range()) + " overlaps its " + region_text(r));
  }
  // On the copy: trim to the aperture, cut the regions out.
  type1_aperture_resize(copy, aper.first, aper.last);
  return type1_exclude_regions(copy, group.regions, who);
}

Status Type1Container::detach(uint32_t group_id) {
  auto order = std::find(attach_order_.begin(), attach_order_.end(), group_id);
  if (order == attach_order_.end())
    return make_refusal(ENOENT, group_name(group_id) + " is not attached to this container");
  attach_order_.erase(order);

  auto ext = std::find_if(external_.begin(), external_.end(),
                          [&](const Type1Group& g) { return g.id == group_id; });
  if (ext != external_.end()) {
    external_.erase(ext);
    if (external_.empty() && domains_.empty()) {
      clear_mappings();
      dma_avail_ = dma_entry_limit_;
    }
  } else {
    std::vector<Range> copy = iova_list_;
    for (auto d = domains_.begin(); d != domains_.end(); ++d) {
      auto g = std::find_if(d->groups.begin(), d->groups.end(),
                            [&](const Type1Group& x) { return x.id == group_id; });
      if (g == d->groups.end()) continue;
      d->groups.erase(g);
      if (d->groups.empty()) {
        // The last IOMMU domain going away takes every mapping with it (unless an external
        // domain still holds them).
        if (domains_.size() == 1 && external_.empty()) {
          clear_mappings();
          dma_avail_ = dma_entry_limit_;
        }
        domains_.erase(d);
        // vfio_iommu_aper_expand: widen the first and last node to the intersection of the
        // remaining domains' apertures.
        if (!copy.empty()) {
          uint64_t start = 0, end = kMaxAddress;
          for (const Domain& rest : domains_) {
            start = std::max(start, rest.aperture.first);
            end = std::min(end, rest.aperture.last);
          }
          copy.front().first = start;
          copy.back().last = end;
        }
        update_pgsize_bitmap();
      }
      break;
    }
    // vfio_iommu_resv_refresh: rebuild from the first node's start to the last node's end,
    // minus the regions of every remaining group; on failure the old list stays.
    if (!copy.empty()) {
      std::vector<Range> rebuilt;
      type1_aperture_resize(rebuilt, copy.front().first, copy.back().last);
      std::vector<ReservedRegion> regions;
      for (const Domain& d : domains_)
        for (const Type1Group& g : d.groups)
          regions.insert(regions.end(), g.regions.begin(), g.regions.end());
      if (type1_exclude_regions(rebuilt, regions, "rebuild")) iova_list_ = std::move(rebuilt);
    }
  }
  // The container loses its IOMMU backend with its last group.
  if (attach_order_.empty()) reset();
  return {};
}

bool Type1Container::list_holds(const Range& range) const {
  // The nodes are sorted and disjoint: the one that could hold `range` starts at or below it.
  auto it = std::upper_bound(iova_list_.begin(), iova_list_.end(), range.first,
                             [](uint64_t v, const Range& n) { return v < n.first; });
  return it != iova_list_.begin() && std::prev(it)->contains(range);
}

void Type1Container::clear_mappings() {
  mappings_.clear();
  top_mappings_.clear();
}

Status Type1Container::map_dma(uint64_t iova, uint64_t size) {
  return map_dma(iova, size, iova);
}

Status Type1Container::map_dma(uint64_t iova, uint64_t size, uint64_t vaddr) {
  auto what = [&] { return "MAP_DMA iova " + hex(iova) + " size " + hex(size); };
  // vfio_fops_unl_ioctl: without a group the container has no IOMMU backend to pass to.
  if (attach_order_.empty())
    return make_refusal(EINVAL, what() + ": the container has no group, so no IOMMU backend");
  bool fixed = has_end_of_space_fixes(kernel_);
  if (size == 0) return make_refusal(EINVAL, what() + ": size is 0");
  bool iova_wraps = iova + (size - 1) < iova;
  bool vaddr_wraps = vaddr + (size - 1) < vaddr;
  if (fixed && (iova_wraps || vaddr_wraps))
    return make_refusal(EOVERFLOW, what() + ": the range wraps past 2^64-1");
  // The smallest page size of the container (vfio_dma_do_map).
  uint64_t pgsize = pgsize_bitmap_ ? smallest_page_size(pgsize_bitmap_) : 1;
  if ((size | iova | vaddr) & (pgsize - 1))
    return make_refusal(
        EINVAL, what() + ": iova, size and vaddr must be multiples of " + human_size(pgsize));
  if (!fixed && (iova_wraps || vaddr_wraps))
    return make_refusal(EINVAL, what() + ": the range wraps past 2^64-1");
  Range range{iova, iova + size - 1};
  if (std::optional<Type1Mapping> m = find_dma_mapping(range))
    return make_refusal(EEXIST, what() + ": overlaps mapping " + to_string(m->range()));
  if (dma_avail_ == 0)
    return make_refusal(ENOSPC, what() + ": all " + std::to_string(dma_entry_limit_) +
                                    " mappings of the container are used (dma_entry_limit)");
  // vfio_iommu_iova_dma_valid: one node must hold all of it; an empty list holds anything.
  if (!iova_list_.empty() && !list_holds(range)) {
    return make_refusal(EINVAL, what() + ": " + to_string(range) +
                                    " is not inside one usable range of the container");
  }
  // A mapping that ends at 2^64-1 overlaps nothing the search can see (see find_dma_mapping);
  // every other one is disjoint from the rest.
  if (range.last == kMaxAddress)
    top_mappings_.push_back(Type1Mapping{iova, size});
  else
    mappings_.emplace(iova, size);
  --dma_avail_;
  return {};
}

std::vector<uint32_t> Type1Container::group_ids() const {
  return attach_order_;
}

Type1InfoState Type1Container::info_state() const {
  return Type1InfoState{pgsize_bitmap_, dma_avail_, iova_list_};
}

}  // namespace iovamap
