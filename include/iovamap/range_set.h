// A set of 64-bit addresses stored as sorted, disjoint, non-touching closed ranges.
//
// The set algebra that the rest of iovamap is built on: usable IOVA space is an aperture
// minus reserved regions minus what devices cannot address, and all of those are RangeSets.
// The representation is canonical: ranges are sorted by `first`, never overlap and never touch
// (two touching ranges are merged), so two sets are equal iff their vectors are equal.
//
// Example:
//   RangeSet usable{Range{0, 0x7fffffffff}};
//   usable.remove(Range{0xfee00000, 0xfeefffff});
//   usable.ranges();             // [0, 0xfedfffff], [0xfef00000, 0x7fffffffff]
//   usable.find(0xfee00000);     // nullptr: inside the hole
//   usable.holds({0x1000, 0x1fff});  // true: one range contains all of it
//
// Complexity: `find` and `holds` are O(log n); `add` and `remove` of one range are O(log n + k)
// plus the vector shift; the binary operations are O(n + m).
// Sharp edge: `complement` of the empty set is the whole space, whose size is 2^64: use
// `total_size()` (u128), not a uint64_t.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "iovamap/range.h"

namespace iovamap {

class RangeSet {
 public:
  RangeSet() = default;
  RangeSet(std::initializer_list<Range> ranges);
  // Builds a canonical set from any ranges (overlapping, touching, unsorted).
  static RangeSet from_ranges(const std::vector<Range>& ranges);

  // Adds every address of `range`.
  void add(const Range& range);
  // Removes every address of `range`.
  void remove(const Range& range);

  // The set operations; each returns a new canonical set.
  RangeSet unite(const RangeSet& other) const;
  RangeSet subtract(const RangeSet& other) const;
  RangeSet intersect(const RangeSet& other) const;
  RangeSet intersect(const Range& range) const;
  // Everything in [0, 2^64-1] that is not in this set.
  RangeSet complement() const;

  // The range of the set that holds `address`, or nullptr.
  const Range* find(uint64_t address) const;
  // True when a single range of the set contains all of `range`.
  bool holds(const Range& range) const;
  // True when any address of `range` is in the set.
  bool overlaps(const Range& range) const;

  bool empty() const { return ranges_.empty(); }
  size_t count() const { return ranges_.size(); }
  const std::vector<Range>& ranges() const { return ranges_; }
  auto begin() const { return ranges_.begin(); }
  auto end() const { return ranges_.end(); }
  // Number of addresses in the set, 0 to 2^64.
  u128 total_size() const;

  friend bool operator==(const RangeSet&, const RangeSet&) = default;

 private:
  std::vector<Range> ranges_;  // sorted, disjoint, non-touching
};

// "[0x0, 0xfff], [0x2000, 0x2fff]" for messages and test failures.
std::string to_string(const RangeSet& set);

}  // namespace iovamap
