// The broken axis (broken_axis.h): monotone, every interval at least min_width wide, breaks
// only where no interval is, the segments tiling the space from 0 to the width; hand cases at
// 0 and 2^64-1.
#include "iovamap/broken_axis.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>

namespace iovamap {
namespace {

constexpr BrokenAxisOptions kOptions{.width = 1000, .min_width = 20, .break_width = 24};

// Intervals whose ends cluster at 0, 2^64-1, powers of two and anywhere.
rc::Gen<Range> gen_interval() {
  rc::Gen<uint64_t> address = rc::gen::oneOf(
      rc::gen::element(uint64_t{0}, uint64_t{1}, kMaxAddress - 1, kMaxAddress),
      rc::gen::map(rc::gen::inRange(0, 64), [](int b) { return uint64_t{1} << b; }),
      rc::gen::map(rc::gen::inRange(0, 64), [](int b) { return (uint64_t{1} << b) - 1; }),
      rc::gen::arbitrary<uint64_t>());
  return rc::gen::map(rc::gen::pair(address, address), [](std::pair<uint64_t, uint64_t> p) {
    return Range{std::min(p.first, p.second), std::max(p.first, p.second)};
  });
}

BrokenAxisOptions wide_enough(size_t intervals) {
  BrokenAxisOptions o = kOptions;
  o.width = static_cast<double>(2 * intervals + 1) * (o.min_width + o.break_width) + 100;
  return o;
}

RC_GTEST_PROP(BrokenAxis, MonotoneEveryIntervalVisibleBreaksOnlyInGaps, ()) {
  std::vector<Range> intervals = *rc::gen::resize(
      12, rc::gen::nonEmpty(rc::gen::container<std::vector<Range>>(gen_interval())));
  BrokenAxisOptions o = wide_enough(intervals.size());
  Result<BrokenAxis> made = BrokenAxis::make(intervals, o);
  RC_ASSERT(made.ok());
  const BrokenAxis& axis = *made;

  // The segments tile [0, 2^64-1] in order and [0, width] without overlap.
  const std::vector<AxisSegment>& segs = axis.segments();
  RC_ASSERT(!segs.empty());
  RC_ASSERT(segs.front().range.first == 0u);
  RC_ASSERT(segs.back().range.last == kMaxAddress);
  RC_ASSERT(segs.front().left == 0.0);
  RC_ASSERT(segs.back().right == o.width);
  for (size_t i = 0; i < segs.size(); ++i) {
    RC_ASSERT(segs[i].left < segs[i].right);
    if (i == 0) continue;
    RC_ASSERT(u128{segs[i - 1].range.last} + 1 == segs[i].range.first);
    RC_ASSERT(segs[i - 1].right == segs[i].left);
  }

  // Breaks only in gaps, every gap a break, never two breaks side by side.
  for (size_t i = 1; i < segs.size(); ++i) RC_ASSERT(!(segs[i - 1].gap && segs[i].gap));
  for (const AxisSegment& s : segs) {
    bool covered = std::any_of(intervals.begin(), intervals.end(),
                               [&](const Range& r) { return r.overlaps(s.range); });
    RC_ASSERT(s.gap == !covered);
    if (s.gap) RC_ASSERT(std::abs(s.right - s.left - o.break_width) < 1e-6);
  }

  // Every interval at least min_width wide.
  for (const Range& r : intervals)
    RC_ASSERT(axis.x_end(r.last) - axis.x(r.first) >= o.min_width - 1e-9);

  // Monotone: for addresses in order, positions in order; and an address's right edge is not
  // left of its left edge.
  std::vector<uint64_t> probes = *rc::gen::container<std::vector<uint64_t>>(rc::gen::oneOf(
      rc::gen::arbitrary<uint64_t>(),
      rc::gen::map(rc::gen::elementOf(intervals), [](const Range& r) { return r.first; }),
      rc::gen::map(rc::gen::elementOf(intervals), [](const Range& r) { return r.last; })));
  probes.push_back(0);
  probes.push_back(kMaxAddress);
  std::sort(probes.begin(), probes.end());
  for (size_t i = 0; i < probes.size(); ++i) {
    RC_ASSERT(axis.x(probes[i]) <= axis.x_end(probes[i]));
    RC_ASSERT(axis.x(probes[i]) >= 0.0);
    RC_ASSERT(axis.x_end(probes[i]) <= o.width);
    if (i > 0) RC_ASSERT(axis.x(probes[i - 1]) <= axis.x(probes[i]));
  }
}

TEST(BrokenAxis, EdgesOfTheSpace) {
  BrokenAxis axis = BrokenAxis::make({Range::all()}, kOptions).value();
  ASSERT_EQ(axis.segments().size(), 1u);
  EXPECT_FALSE(axis.segments()[0].gap);
  EXPECT_EQ(axis.x(0), 0.0);
  EXPECT_EQ(axis.x_end(kMaxAddress), 1000.0);
  EXPECT_DOUBLE_EQ(axis.x(uint64_t{1} << 63), 500.0);

  // One address at each end: two segments of min_width... and the break between them.
  BrokenAxis ends = BrokenAxis::make({{0, 0}, {kMaxAddress, kMaxAddress}}, kOptions).value();
  ASSERT_EQ(ends.segments().size(), 3u);
  EXPECT_FALSE(ends.segments()[0].gap);
  EXPECT_TRUE(ends.segments()[1].gap);
  EXPECT_EQ(ends.segments()[1].range, (Range{1, kMaxAddress - 1}));
  EXPECT_FALSE(ends.segments()[2].gap);
  EXPECT_GE(ends.x_end(0) - ends.x(0), 20.0);
  EXPECT_GE(ends.x_end(kMaxAddress) - ends.x(kMaxAddress), 20.0);
  EXPECT_EQ(ends.x(12345), ends.segments()[1].left);  // inside a break: its left edge
}

TEST(BrokenAxis, BiggerPiecesAreWiderAndSmallOnesStillVisible) {
  // Usable [0, 0xfedfffff], the MSI window, usable up to 2^39-1, a 32 MiB BAR far above.
  BrokenAxis axis = BrokenAxis::make({{0, 0xfedfffff},
                                      {0xfee00000, 0xfeefffff},
                                      {0xfef00000, 0x7fffffffff},
                                      {0x380000000000, 0x380001ffffff}},
                                     kOptions)
                        .value();
  double msi = axis.x_end(0xfeefffff) - axis.x(0xfee00000);
  double low = axis.x_end(0xfedfffff) - axis.x(0);
  double bar = axis.x_end(0x380001ffffff) - axis.x(0x380000000000);
  EXPECT_GE(msi, 20.0);
  EXPECT_GT(low, msi);
  EXPECT_GT(low, bar);
  // Two breaks: between 2^39 and the BAR, and above the BAR.
  size_t breaks = 0;
  for (const AxisSegment& s : axis.segments()) breaks += s.gap;
  EXPECT_EQ(breaks, 2u);
}

TEST(BrokenAxis, RefusesWhatCannotBeDrawn) {
  EXPECT_FALSE(BrokenAxis::make({}, kOptions).ok());
  EXPECT_FALSE(BrokenAxis::make({{0, 0}}, {.width = 10, .min_width = 20, .break_width = 5}).ok());
  EXPECT_FALSE(BrokenAxis::make({{0, 0}}, {.width = 100, .min_width = 0, .break_width = 5}).ok());
}

}  // namespace
}  // namespace iovamap
