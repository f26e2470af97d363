// RangeSet against a brute-force model: a bitset over a 256-address universe, placed either at
// the bottom of the 64-bit space or at its top (so every 2^64-1 edge is exercised).
#include "iovamap/range_set.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <bitset>

namespace iovamap {
namespace {

constexpr int kUniverse = 256;
using Bits = std::bitset<kUniverse>;

struct SmallSet {
  uint64_t base;                            // 0 or 2^64 - 256
  std::vector<std::pair<int, int>> ranges;  // offsets within the universe, first <= last
};

Range to_range(uint64_t base, std::pair<int, int> r) {
  return Range{base + static_cast<uint64_t>(r.first), base + static_cast<uint64_t>(r.second)};
}

rc::Gen<std::vector<std::pair<int, int>>> gen_ranges() {
  return rc::gen::container<std::vector<std::pair<int, int>>>(rc::gen::map(
      rc::gen::pair(rc::gen::inRange(0, kUniverse), rc::gen::inRange(0, kUniverse)),
      [](std::pair<int, int> p) {
        return std::make_pair(std::min(p.first, p.second), std::max(p.first, p.second));
      }));
}

rc::Gen<uint64_t> gen_base() {
  return rc::gen::element(uint64_t{0}, kMaxAddress - (kUniverse - 1));
}

Bits bits_of(const std::vector<std::pair<int, int>>& ranges) {
  Bits b;
  for (auto [f, l] : ranges)
    for (int i = f; i <= l; ++i) b.set(i);
  return b;
}

// The set's addresses as a bitset; fails if any address lies outside the universe.
Bits bits_of(const RangeSet& set, uint64_t base) {
  Bits b;
  for (const Range& r : set) {
    RC_ASSERT(r.first >= base);
    RC_ASSERT(r.last - base < static_cast<uint64_t>(kUniverse));
    for (uint64_t a = r.first;; ++a) {
      b.set(a - base);
      if (a == r.last) break;
    }
  }
  return b;
}

void assert_canonical(const RangeSet& set) {
  const auto& v = set.ranges();
  for (size_t i = 0; i < v.size(); ++i) {
    RC_ASSERT(v[i].first <= v[i].last);
    if (i > 0) RC_ASSERT(v[i - 1].last + 1 < v[i].first);  // sorted, not touching
  }
}

RangeSet build(uint64_t base, const std::vector<std::pair<int, int>>& ranges) {
  RangeSet s;
  for (auto r : ranges) s.add(to_range(base, r));
  return s;
}

RC_GTEST_PROP(RangeSet, AddMatchesBruteForce, ()) {
  uint64_t base = *gen_base();
  auto ranges = *gen_ranges();
  RangeSet s = build(base, ranges);
  assert_canonical(s);
  RC_ASSERT(bits_of(s, base) == bits_of(ranges));
  std::vector<Range> raw;
  for (auto r : ranges) raw.push_back(to_range(base, r));
  RC_ASSERT(RangeSet::from_ranges(raw) == s);
}

RC_GTEST_PROP(RangeSet, RemoveMatchesBruteForce, ()) {
  uint64_t base = *gen_base();
  auto adds = *gen_ranges();
  auto removes = *gen_ranges();
  RangeSet s = build(base, adds);
  for (auto r : removes) s.remove(to_range(base, r));
  assert_canonical(s);
  RC_ASSERT(bits_of(s, base) == (bits_of(adds) & ~bits_of(removes)));
}

RC_GTEST_PROP(RangeSet, BinaryOperationsMatchBruteForce, ()) {
  uint64_t base = *gen_base();
  auto a_ranges = *gen_ranges();
  auto b_ranges = *gen_ranges();
  RangeSet a = build(base, a_ranges);
  RangeSet b = build(base, b_ranges);
  Bits ba = bits_of(a_ranges), bb = bits_of(b_ranges);
  RangeSet u = a.unite(b), i = a.intersect(b), d = a.subtract(b);
  assert_canonical(u);
  assert_canonical(i);
  assert_canonical(d);
  RC_ASSERT(bits_of(u, base) == (ba | bb));
  RC_ASSERT(bits_of(i, base) == (ba & bb));
  RC_ASSERT(bits_of(d, base) == (ba & ~bb));
}

RC_GTEST_PROP(RangeSet, ComplementMatchesBruteForce, ()) {
  uint64_t base = *gen_base();
  auto ranges = *gen_ranges();
  RangeSet s = build(base, ranges);
  RangeSet c = s.complement();
  assert_canonical(c);
  // Inside the universe, the complement is the bitwise complement; outside, everything.
  Range universe{base, base + kUniverse - 1};
  RC_ASSERT(bits_of(c.intersect(universe), base) == ~bits_of(ranges));
  RC_ASSERT(c.total_size() + s.total_size() == u128{1} << 64);
  RC_ASSERT(c.complement() == s);
}

RC_GTEST_PROP(RangeSet, QueriesMatchBruteForce, ()) {
  uint64_t base = *gen_base();
  auto ranges = *gen_ranges();
  auto [qf, ql] = *rc::gen::map(
      rc::gen::pair(rc::gen::inRange(0, kUniverse), rc::gen::inRange(0, kUniverse)),
      [](std::pair<int, int> p) {
        return std::make_pair(std::min(p.first, p.second), std::max(p.first, p.second));
      });
  RangeSet s = build(base, ranges);
  Bits b = bits_of(ranges);
  Range q = to_range(base, {qf, ql});
  // find: the containing range, exactly when the address is in the set.
  const Range* r = s.find(q.first);
  RC_ASSERT((r != nullptr) == b.test(qf));
  if (r) RC_ASSERT(r->contains(q.first));
  // holds: every address of q is in the set (a canonical set has no touching ranges, so
  // "one range holds all of q" is the same as "all of q is in the set").
  bool all = true, any = false;
  for (int i = qf; i <= ql; ++i) {
    all = all && b.test(i);
    any = any || b.test(i);
  }
  RC_ASSERT(s.holds(q) == all);
  RC_ASSERT(s.overlaps(q) == any);
}

TEST(RangeSet, WholeSpaceEdges) {
  RangeSet all{Range::all()};
  EXPECT_EQ(all.total_size(), u128{1} << 64);
  EXPECT_TRUE(all.complement().empty());
  EXPECT_EQ(RangeSet{}.complement(), all);
  EXPECT_TRUE(all.holds(Range{kMaxAddress, kMaxAddress}));

  RangeSet s = all;
  s.remove(Range{0, 0});
  s.remove(Range{kMaxAddress, kMaxAddress});
  EXPECT_EQ(s.ranges(), (std::vector<Range>{{1, kMaxAddress - 1}}));
  s.add(Range{kMaxAddress, kMaxAddress});  // touches from the right: merges
  EXPECT_EQ(s.ranges(), (std::vector<Range>{{1, kMaxAddress}}));
  s.add(Range{0, 0});
  EXPECT_EQ(s, all);
}

TEST(RangeSet, RealIntelContainer) {
  RangeSet usable{Range{0, 0x7fffffffff}};
  usable.remove(Range{0xfee00000, 0xfeefffff});
  EXPECT_EQ(usable.ranges(), (std::vector<Range>{{0, 0xfedfffff}, {0xfef00000, 0x7fffffffff}}));
  EXPECT_EQ(usable.find(0xfee00000), nullptr);
  EXPECT_FALSE(usable.holds(Range{0xfed00000, 0xfef00fff}));
}

TEST(Range, FromStartLength) {
  EXPECT_FALSE(Range::from_start_length(0, 0).ok());
  EXPECT_FALSE(Range::from_start_length(kMaxAddress, 2).ok());
  EXPECT_EQ(*Range::from_start_length(kMaxAddress, 1), (Range{kMaxAddress, kMaxAddress}));
  EXPECT_EQ(*Range::from_start_length(1, kMaxAddress), (Range{1, kMaxAddress}));
  EXPECT_FALSE(Range::make(2, 1).ok());
}

TEST(Range, HumanSize) {
  EXPECT_EQ(human_size(4096), "4 KiB");
  EXPECT_EQ(human_size(u128{1} << 64), "16 EiB");
  EXPECT_EQ(human_size(0x180000), "1.5 MiB");
  EXPECT_EQ(human_size(1000), "1000 B");
}

}  // namespace
}  // namespace iovamap
