#include "iovamap/range_set.h"

#include <algorithm>

namespace iovamap {

namespace {

// Appends `r` to sorted, canonical `out`, merging it into the last range when they touch.
// Precondition: r.first >= out.back().first.
void append_merging(std::vector<Range>& out, const Range& r) {
  if (!out.empty() && out.back().touches(r)) {
    out.back().last = std::max(out.back().last, r.last);
  } else {
    out.push_back(r);
  }
}

}  // namespace

RangeSet::RangeSet(std::initializer_list<Range> ranges) {
  for (const Range& r : ranges) add(r);
}

RangeSet RangeSet::from_ranges(const std::vector<Range>& ranges) {
  std::vector<Range> sorted = ranges;
  std::sort(sorted.begin(), sorted.end());
  RangeSet set;
  for (const Range& r : sorted) append_merging(set.ranges_, r);
  return set;
}

void RangeSet::add(const Range& range) {
  // First range that ends at or after range.first - 1 (it may touch `range` from the left).
  auto lo = std::lower_bound(
      ranges_.begin(), ranges_.end(), range,
      [](const Range& a, const Range& r) { return a.last != kMaxAddress && a.last + 1 < r.first; });
  Range merged = range;
  auto hi = lo;
  while (hi != ranges_.end() && hi->touches(merged)) {
    merged.first = std::min(merged.first, hi->first);
    merged.last = std::max(merged.last, hi->last);
    ++hi;
  }
  if (lo == hi) {
    ranges_.insert(lo, merged);
  } else {
    *lo = merged;
    ranges_.erase(lo + 1, hi);
  }
}

void RangeSet::remove(const Range& range) {
  auto lo = std::lower_bound(ranges_.begin(), ranges_.end(), range,
                             [](const Range& a, const Range& r) { return a.last < r.first; });
  auto hi = lo;
  std::vector<Range> pieces;
  while (hi != ranges_.end() && hi->first <= range.last) {
    if (hi->first < range.first) pieces.push_back(Range{hi->first, range.first - 1});
    if (hi->last > range.last) pieces.push_back(Range{range.last + 1, hi->last});
    ++hi;
  }
  if (lo == hi) return;
  auto at = ranges_.erase(lo, hi);
  ranges_.insert(at, pieces.begin(), pieces.end());
}

RangeSet RangeSet::unite(const RangeSet& other) const {
  std::vector<Range> all;
  all.reserve(ranges_.size() + other.ranges_.size());
  std::merge(ranges_.begin(), ranges_.end(), other.ranges_.begin(), other.ranges_.end(),
             std::back_inserter(all));
  RangeSet out;
  for (const Range& r : all) append_merging(out.ranges_, r);
  return out;
}

RangeSet RangeSet::intersect(const RangeSet& other) const {
  RangeSet out;
  auto a = ranges_.begin();
  auto b = other.ranges_.begin();
  while (a != ranges_.end() && b != other.ranges_.end()) {
    uint64_t first = std::max(a->first, b->first);
    uint64_t last = std::min(a->last, b->last);
    if (first <= last) out.ranges_.push_back(Range{first, last});
    if (a->last < b->last) {
      ++a;
    } else {
      ++b;
    }
  }
  return out;
}

RangeSet RangeSet::intersect(const Range& range) const {
  return intersect(RangeSet{range});
}

RangeSet RangeSet::complement() const {
  RangeSet out;
  uint64_t next = 0;  // first address not yet accounted for
  bool done = false;  // true once the space up to 2^64-1 is accounted for
  for (const Range& r : ranges_) {
    if (r.first > next) out.ranges_.push_back(Range{next, r.first - 1});
    if (r.last == kMaxAddress) {
      done = true;
      break;
    }
    next = r.last + 1;
  }
  if (!done) out.ranges_.push_back(Range{next, kMaxAddress});
  return out;
}

RangeSet RangeSet::subtract(const RangeSet& other) const {
  return intersect(other.complement());
}

const Range* RangeSet::find(uint64_t address) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), address,
                             [](uint64_t a, const Range& r) { return a < r.first; });
  if (it == ranges_.begin()) return nullptr;
  --it;
  return it->contains(address) ? &*it : nullptr;
}

bool RangeSet::holds(const Range& range) const {
  const Range* r = find(range.first);
  return r != nullptr && r->contains(range);
}

bool RangeSet::overlaps(const Range& range) const {
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), range,
                             [](const Range& a, const Range& r) { return a.last < r.first; });
  return it != ranges_.end() && it->first <= range.last;
}

u128 RangeSet::total_size() const {
  u128 total = 0;
  for (const Range& r : ranges_) total += r.size();
  return total;
}

std::string to_string(const RangeSet& set) {
  return to_string(set.ranges());
}

}  // namespace iovamap
