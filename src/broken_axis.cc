#include "iovamap/broken_axis.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <set>

namespace iovamap {

namespace {

// A covered piece's share of the spare width: the fifth root of its size, so that 4 GiB is
// about five times as wide as 1 MiB, not 4096 times (and a piece of one address gets almost
// nothing beyond min_width).
double weight(const Range& piece) {
  return std::pow(static_cast<double>(piece.size()), 0.2);
}

}  // namespace

Result<BrokenAxis> BrokenAxis::make(const std::vector<Range>& intervals,
                                    const BrokenAxisOptions& options) {
  if (intervals.empty()) return make_error(EINVAL, "broken axis: no intervals to show");
  for (double w : {options.width, options.min_width, options.break_width})
    if (!std::isfinite(w) || w <= 0)
      return make_error(EINVAL, "broken axis: widths must be positive and finite");
  // Cut the space at every interval's first address and after its last one.
  std::set<u128> cuts = {0, u128{1} << 64};
  for (const Range& r : intervals) {
    cuts.insert(r.first);
    cuts.insert(u128{r.last} + 1);
  }
  // Each piece [cut_i, cut_{i+1} - 1] is covered by an interval or wholly uncovered: no
  // interval starts or ends inside it. Intervals sorted by first answer "covered?" by a sweep.
  std::vector<Range> sorted = intervals;
  std::sort(sorted.begin(), sorted.end());
  BrokenAxis axis;
  axis.width_ = options.width;
  size_t next = 0;
  u128 covered_to = 0;  // one past the last address the intervals started so far cover
  double weights = 0;
  size_t gaps = 0;
  for (auto it = cuts.begin(); std::next(it) != cuts.end(); ++it) {
    Range piece{static_cast<uint64_t>(*it), static_cast<uint64_t>(*std::next(it) - 1)};
    while (next < sorted.size() && sorted[next].first <= piece.first)
      covered_to = std::max(covered_to, u128{sorted[next++].last} + 1);
    bool gap = covered_to <= piece.first;
    axis.segments_.push_back({piece, 0, 0, gap});
    if (!gap) weights += weight(piece);
  }
  for (const AxisSegment& s : axis.segments_) gaps += s.gap;
  size_t shown = axis.segments_.size() - gaps;
  double spare = options.width - static_cast<double>(gaps) * options.break_width -
                 static_cast<double>(shown) * options.min_width;
  if (spare < 0)
    return make_error(EINVAL, "broken axis: " + std::to_string(shown) + " segments and " +
                                  std::to_string(gaps) + " breaks do not fit in the width");
  // A covered piece: min_width, plus its share of the spare width by weight.
  double left = 0;
  for (AxisSegment& s : axis.segments_) {
    double w = options.break_width;
    if (!s.gap) {
      w = options.min_width;
      w += spare * weight(s.range) / weights;
    }
    s.left = left;
    s.right = left + w;
    left = s.right;
  }
  // The last segment ends exactly at the width (rounding, and a spare nobody took).
  axis.segments_.back().right = options.width;
  return axis;
}

double BrokenAxis::at(u128 address) const {
  // The segment holding `address`, or the last one for 2^64.
  auto it = std::upper_bound(segments_.begin(), segments_.end(), address,
                             [](u128 a, const AxisSegment& s) { return a < s.range.first; });
  const AxisSegment& s = *std::prev(it);
  if (address > s.range.last) return s.right;
  if (s.gap) return s.left;
  long double part =
      static_cast<long double>(address - s.range.first) / static_cast<long double>(s.range.size());
  return std::min(s.right, s.left + static_cast<double>(part * (s.right - s.left)));
}

}  // namespace iovamap
