// Checking planned DMA mappings against a modelled type1 container (mapping_check.h).
#include "iovamap/mapping_check.h"

#include <algorithm>

#include "container_stops.h"
#include "free_extents.h"

namespace iovamap {

MappingChecker::MappingChecker(Type1Model model, std::vector<uint32_t> group_ids)
    : model_(std::move(model)), group_ids_(std::move(group_ids)) {
  uint64_t page = smallest_page_size(model_.container.pgsize_bitmap());
  alignment_ = page ? page : kPageSize;
  stops_ = detail::type1_stops(model_.groups);
  std::sort(stops_.begin(), stops_.end(),
            [](const RangeStop& a, const RangeStop& b) { return a.range.first < b.range.first; });
  uint64_t running = 0;
  for (const RangeStop& s : stops_) max_last_.push_back(running = std::max(running, s.range.last));
  free_ = std::make_shared<FreeExtents>();
  for (const Range& r : model_.container.iova_list()) add_free(r);
}

Result<MappingChecker> MappingChecker::create(const Host& host,
                                              const std::vector<uint32_t>& group_ids,
                                              Policy policy) {
  IOVAMAP_ASSIGN_OR_RETURN(Type1Model model, model_type1(host, group_ids, policy));
  return MappingChecker(std::move(model), group_ids);
}

std::string MappingChecker::explain_miss(const Range& m) const {
  // The stops starting at or before m.last, walked back while one of them can still reach m.
  std::vector<const RangeStop*> hits;
  auto end = std::upper_bound(stops_.begin(), stops_.end(), m.last,
                              [](uint64_t v, const RangeStop& s) { return v < s.range.first; });
  for (size_t i = static_cast<size_t>(end - stops_.begin()); i-- > 0;) {
    if (max_last_[i] < m.first) break;
    if (stops_[i].range.last >= m.first) hits.push_back(&stops_[i]);
  }
  std::reverse(hits.begin(), hits.end());
  std::string why;
  for (const RangeStop* s : hits) {
    if (s->kind == RangeStop::Kind::kAperture) {
      why += "; outside the aperture of group " + std::to_string(s->group_id) + ": " +
             to_string(s->range);
    } else {
      why += "; overlaps " + std::string(type_name(*s->type)) + " region " + to_string(s->range) +
             " of group " + std::to_string(s->group_id);
    }
    if (!s->provenance.empty()) why += " (" + provenance_text(s->provenance) + ")";
  }
  // The usable ranges it crosses: the list is sorted, so from the first that reaches m.first.
  const std::vector<Range>& list = model_.container.iova_list();
  auto u = std::lower_bound(list.begin(), list.end(), m.first,
                            [](const Range& r, uint64_t v) { return r.last < v; });
  int touched = 0;
  for (; u != list.end() && u->first <= m.last; ++u) ++touched;
  if (touched > 1) why += "; crosses " + std::to_string(touched) + " usable ranges";
  return why;
}

namespace {

// The aligned start in `r` closest to `iova` at which `size` bytes fit, and its distance.
std::optional<std::pair<uint64_t, u128>> place_in(const Range& r, uint64_t iova, u128 size,
                                                  uint64_t align) {
  if (r.size() < size) return std::nullopt;
  u128 first = (u128{r.first} + align - 1) / align * align;
  u128 last_start = (u128{r.last} + 1 - size) / align * align;
  if (first > last_start) return std::nullopt;
  u128 down = u128{iova} / align * align;
  std::optional<std::pair<uint64_t, u128>> best;
  for (u128 candidate : {down, down + align}) {
    u128 place = std::clamp(candidate, first, last_start);
    u128 distance = place > iova ? place - iova : iova - place;
    if (!best || distance < best->second) best = {{static_cast<uint64_t>(place), distance}};
  }
  return best;
}

}  // namespace

void MappingChecker::add_free(const Range& r) {
  // Whole aligned pages only: every extent kept can then hold any size up to its own.
  u128 first = (u128{r.first} + alignment_ - 1) / alignment_ * alignment_;
  u128 end = (u128{r.last} + 1) / alignment_ * alignment_;
  if (first < end)
    free_->insert(Range{static_cast<uint64_t>(first), static_cast<uint64_t>(end - 1)});
}

std::optional<uint64_t> MappingChecker::nearest_placement(uint64_t iova, u128 size) const {
  // The best place is in the extent holding iova, in the lowest extent above it with room, or
  // in the highest one below it with room: above, a lower extent is nearer; below, a higher one.
  std::optional<std::pair<uint64_t, u128>> best;
  auto consider = [&](const std::optional<Range>& r) {
    if (!r) return;
    auto p = place_in(*r, iova, size, alignment_);
    if (p && (!best || p->second < best->second)) best = p;
  };
  std::optional<Range> here = free_->holding(iova);
  consider(here);
  if (iova < kMaxAddress) consider(free_->next_fit(iova + 1, size));
  consider(free_->prev_fit(here ? here->first : iova, size));
  if (!best) return std::nullopt;
  return best->first;
}

void MappingChecker::take_free(const Range& r) {
  // The one free extent holding r (MAP_DMA accepted it inside one usable range, clear of
  // every mapping, aligned) is split around it.
  std::optional<Range> holder = free_->holding(r.first);
  if (!holder || holder->last < r.last) return;
  free_->erase(holder->first);
  if (holder->first < r.first) free_->insert(Range{holder->first, r.first - 1});
  if (r.last < holder->last) free_->insert(Range{r.last + 1, holder->last});
}

MappingVerdict MappingChecker::check(const PlannedMapping& p) {
  MappingVerdict v{.mapping = p};
  if (p.size > kMaxAddress) {
    // MAP_DMA's size field is 64 bits: 2^64 cannot even be asked for.
    v.refusal = make_refusal(
        EINVAL, "MAP_DMA iova " + hex(p.iova) + " size 2^64: the size field of MAP_DMA is 64 bits");
    return v;
  }
  const uint64_t size = static_cast<uint64_t>(p.size);
  Status s = model_.container.map_dma(p.iova, size);  // size 0 and wraps: the kernel's errno
  const bool wraps = size == 0 || size - 1 > kMaxAddress - p.iova;
  if (s) {
    take_free(Range{p.iova, p.iova + (size - 1)});
    return v;
  }
  Error e = s.error();
  if (e.code == EINVAL && !wraps) e.message += explain_miss(Range{p.iova, p.iova + (size - 1)});
  v.budget_spent = e.code == ENOSPC;
  v.refusal = std::move(e);
  if (!v.budget_spent && size > 0) v.nearest = nearest_placement(p.iova, p.size);
  return v;
}

}  // namespace iovamap
