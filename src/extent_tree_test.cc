// ExtentTree against a brute-force model: a bitmap of free pfns in a window of 160 pfns, at
// the bottom (from pfn 1) or at the very top (up to pfn 2^64-1). After every operation the
// whole tree is checked from scratch: the extents in address order are exactly the model's
// maximal free runs (disjoint, not touching), every node's aligned order and subtree summaries
// equal a brute-force recomputation, priorities are in heap order (the treap's balance), the
// count is right and the sentinel is untouched. Searches must return the highest fit the model
// finds by scanning every start.
#include "extent_tree.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <bitset>
#include <utility>
#include <vector>

namespace iovamap::extents {
namespace {

constexpr int kWindow = 160;

struct Model {
  uint64_t base;  // pfn of bit 0
  std::bitset<kWindow> free;

  uint64_t pfn(int i) const { return base + static_cast<uint64_t>(i); }
  int index(uint64_t pfn) const { return static_cast<int>(pfn - base); }

  // The maximal free runs, low to high.
  std::vector<std::pair<uint64_t, uint64_t>> runs() const {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (int i = 0; i < kWindow; ++i) {
      if (!free[i]) continue;
      int j = i;
      while (j + 1 < kWindow && free[j + 1]) ++j;
      out.emplace_back(pfn(i), pfn(j));
      i = j;
    }
    return out;
  }
  bool all_free(int i, int n) const {
    for (int k = i; k < i + n; ++k) {
      if (!free[k]) return false;
    }
    return true;
  }
  bool any_free(int i, int n) const {
    for (int k = i; k < i + n; ++k) {
      if (free[k]) return true;
    }
    return false;
  }
};

// The largest k such that some block of 2^k pfns aligned to 2^k lies inside [first, last], by
// trying every start. Runs are shorter than 2^8.
int brute_order(uint64_t first, uint64_t last) {
  for (int k = 8; k >= 0; --k) {
    const uint64_t block = uint64_t{1} << k;
    for (uint64_t x = first;; ++x) {
      if ((x & (block - 1)) == 0 && last - x >= block - 1) return k;
      if (x == last) break;
    }
  }
  return -1;
}

// Checks t's subtree; returns its largest aligned order (-1 when empty) and appends its
// extents in address order.
int check_subtree(const ExtentTree& tree, uint32_t t, uint32_t parent_prio,
                  std::vector<std::pair<uint64_t, uint64_t>>& extents) {
  if (t == kNil) return -1;
  const Node& n = tree.at(t);
  RC_ASSERT(n.prio == priority(t));
  RC_ASSERT(n.prio <= parent_prio);  // heap order
  const int left = check_subtree(tree, n.child[0], n.prio, extents);
  extents.emplace_back(n.first, n.last);
  const int right = check_subtree(tree, n.child[1], n.prio, extents);
  RC_ASSERT(static_cast<int>(n.order) == brute_order(n.first, n.last));
  RC_ASSERT(static_cast<int>(n.child_sub[0]) == left + 1);
  RC_ASSERT(static_cast<int>(n.child_sub[1]) == right + 1);
  const int most = std::max({static_cast<int>(n.order), left, right});
  RC_ASSERT(static_cast<int>(n.sub) == most + 1);
  return most;
}

void check_tree(const ExtentTree& tree, const Model& m) {
  const Node& sentinel = tree.at(kNil);
  RC_ASSERT(sentinel.sub == 0);
  RC_ASSERT(sentinel.child_sub[0] == 0 && sentinel.child_sub[1] == 0);
  std::vector<std::pair<uint64_t, uint64_t>> extents;
  check_subtree(tree, tree.root(), ~uint32_t{0}, extents);
  RC_ASSERT(extents == m.runs());  // also: ordered, disjoint, not touching
  RC_ASSERT(tree.count() == extents.size());
}

// The highest start of `size` pfns aligned to `align`, ending at or below `limit`, inside one
// free run whose aligned order is at least `need`; -1 when none. Scans every start.
int64_t brute_find(const Model& m, uint64_t size, uint64_t align, uint64_t limit, int need) {
  for (int i = kWindow - 1; i >= 0; --i) {
    const uint64_t start = m.pfn(i);
    if ((start & (align - 1)) != 0) continue;
    if (i + static_cast<int>(size) > kWindow) continue;
    if (start + (size - 1) > limit) continue;
    if (!m.all_free(i, static_cast<int>(size))) continue;
    int lo = i, hi = i;
    while (lo > 0 && m.free[lo - 1]) --lo;
    while (hi + 1 < kWindow && m.free[hi + 1]) ++hi;
    if (brute_order(m.pfn(lo), m.pfn(hi)) >= need) return i;
  }
  return -1;
}

void run_tree(bool top) {
  Model m{top ? ~uint64_t{0} - (kWindow - 1) : 1, {}};
  ExtentTree tree;
  // Initial extents through add(): every maximal run of a random bitmap.
  const auto bits = *rc::gen::container<std::vector<bool>>(kWindow, rc::gen::arbitrary<bool>());
  for (int i = 0; i < kWindow; ++i) m.free[i] = bits[i];
  for (const auto& [first, last] : m.runs()) tree.add(first, last);
  check_tree(tree, m);

  const int steps = *rc::gen::inRange(1, 200);
  for (int step = 0; step < steps; ++step) {
    const int op = *rc::gen::inRange(0, 3);
    if (op == 0) {
      // give_back: refused exactly when the range overlaps free space.
      const int i = *rc::gen::inRange(0, kWindow);
      const int n = *rc::gen::inRange(1, std::min(40, kWindow - i) + 1);
      const bool overlaps = m.any_free(i, n);
      RC_ASSERT(tree.give_back(m.pfn(i), m.pfn(i + n - 1)) == !overlaps);
      if (!overlaps) {
        for (int k = i; k < i + n; ++k) m.free[k] = true;
      }
    } else if (op == 1) {
      // find + carve, as an allocation does.
      const uint64_t size = *rc::gen::inRange<uint64_t>(1, 41);
      const uint64_t align = uint64_t{1} << *rc::gen::inRange(0, 7);
      const uint64_t limit =
          *rc::gen::arbitrary<bool>() ? ~uint64_t{0} : m.pfn(*rc::gen::inRange(0, kWindow));
      const int need = *rc::gen::inRange(0, 8);
      Fit fit;
      const bool found = tree.find(Request{size, align, limit}, need, fit);
      const int64_t want = brute_find(m, size, align, limit, need);
      RC_ASSERT(found == (want >= 0));
      if (!found) continue;
      RC_ASSERT(fit.start == m.pfn(static_cast<int>(want)));
      RC_ASSERT(tree.at(fit.node).first <= fit.start);
      RC_ASSERT(fit.start + (size - 1) <= tree.at(fit.node).last);
      tree.carve(fit.node, fit.start, size, true);
      for (int k = 0; k < static_cast<int>(size); ++k)
        m.free[static_cast<size_t>(want + k)] = false;
    } else {
      // A fixed placement: neighbours + carve, as allocate_at does.
      const int i = *rc::gen::inRange(0, kWindow);
      const int n = *rc::gen::inRange(1, std::min(40, kWindow - i) + 1);
      uint32_t pred, succ;
      tree.neighbours(m.pfn(i), pred, succ);
      const bool inside = pred != kNil && tree.at(pred).last >= m.pfn(i + n - 1);
      RC_ASSERT(inside == m.all_free(i, n));
      if (inside) {
        tree.carve(pred, m.pfn(i), static_cast<uint64_t>(n));
        for (int k = i; k < i + n; ++k) m.free[k] = false;
      }
    }
    check_tree(tree, m);
  }
}

RC_GTEST_PROP(ExtentTree, MatchesBruteForceAtBottom, ()) {
  run_tree(false);
}
RC_GTEST_PROP(ExtentTree, MatchesBruteForceAtTop, ()) {
  run_tree(true);
}

// A tree that grows past its first chunk of nodes (the second is reached through the chunk
// table) and shrinks back: every other pfn free, then everything returned.
TEST(ExtentTree, GrowsPastTheFirstChunk) {
  ExtentTree tree;
  constexpr uint64_t kExtents = 3 * kChunkNodes;
  for (uint64_t i = 0; i < kExtents; ++i) tree.add(2 * i + 1, 2 * i + 1);
  EXPECT_EQ(tree.count(), kExtents);
  Fit fit;
  ASSERT_TRUE(tree.find(Request{1, 1, ~uint64_t{0}}, 0, fit));
  EXPECT_EQ(fit.start, 2 * kExtents - 1);
  ASSERT_FALSE(tree.find(Request{2, 1, ~uint64_t{0}}, 1, fit));
  for (uint64_t i = 0; i + 1 < kExtents; ++i) ASSERT_TRUE(tree.give_back(2 * i + 2, 2 * i + 2));
  EXPECT_EQ(tree.count(), 1u);
  ASSERT_TRUE(tree.find(Request{1024, 1024, ~uint64_t{0}}, 10, fit));
  EXPECT_EQ(fit.start, 2 * kExtents - 1024);
  EXPECT_FALSE(tree.give_back(5, 5));  // already free
}

// The path stack past its inline entries (a treap almost never gets that deep).
TEST(ExtentTreePath, GrowsOntoTheHeap) {
  Path path;
  for (uint32_t i = 0; i < 1000; ++i) path.push_back(3 * i);
  ASSERT_EQ(path.size(), 1000u);
  for (uint32_t i = 0; i < 1000; ++i) ASSERT_EQ(path[i], 3 * i);
  EXPECT_EQ(path.pop_back(), 2997u);
  path.resize(100);
  EXPECT_EQ(path.back(), 297u);
  path.push_back(7);
  EXPECT_EQ(path[100], 7u);
  EXPECT_EQ(path[99], 297u);
  path.clear();
  EXPECT_EQ(path.size(), 0u);
}

}  // namespace
}  // namespace iovamap::extents
