// Private: the free space of a container, searchable by position and size at once.
//
// MappingChecker answers "where would this mapping fit instead, nearest to where it was
// asked?" after every refused mapping. A sorted map of free extents answers "which extent holds
// x" in O(log n), but "the nearest extent at least this large" only by walking every smaller
// extent in between, which a hostile map file (thousands of small holes, then thousands of
// large refused requests) turns into O(n) per question. FreeExtents is a treap keyed by start
// whose every node knows the largest extent in its subtree, so both questions take O(log n)
// expected.
//
// Example:
//   FreeExtents f;
//   f.insert({0x0, 0xfff});
//   f.insert({0x100000, 0x1fffff});
//   f.next_fit(0x1000, 0x2000);   // [0x100000, 0x1fffff]: the first at or above with room
//   f.prev_fit(0x100000, 0x1000); // [0x0, 0xfff]
//
// Invariants: extents are disjoint (the caller's promise, checked by nothing); each node's
// `largest` is the size of the largest extent in its subtree; priorities are a heap (a
// deterministic hash of the insertion count, so runs repeat).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "iovamap/range.h"

namespace iovamap {

class FreeExtents {
 public:
  // Adds `r`, which overlaps no extent already here.
  void insert(const Range& r);
  // Removes the extent that starts at `first`; nothing when there is none.
  void erase(uint64_t first);
  // The extent holding `x`.
  std::optional<Range> holding(uint64_t x) const;
  // The lowest extent starting at or above `x` with at least `size` addresses.
  std::optional<Range> next_fit(uint64_t x, u128 size) const;
  // The highest extent starting below `x` with at least `size` addresses.
  std::optional<Range> prev_fit(uint64_t x, u128 size) const;
  size_t size() const { return count_; }

 private:
  struct Node {
    Range range;
    u128 largest = 0;  // the largest extent size in this subtree
    uint32_t priority = 0;
    int left = -1, right = -1;
  };
  u128 largest(int t) const { return t < 0 ? 0 : nodes_[t].largest; }
  void pull(int t);
  // Splits `t` into the extents starting below `key` and the rest.
  void split(int t, uint64_t key, int* below, int* rest);
  int merge(int a, int b);
  std::optional<Range> lowest_fit(int t, u128 size) const;
  std::optional<Range> highest_fit(int t, u128 size) const;

  std::vector<Node> nodes_;
  std::vector<int> unused_;
  int root_ = -1;
  size_t count_ = 0;
  uint32_t inserted_ = 0;
};

}  // namespace iovamap
