#include "free_extents.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>

namespace iovamap {
namespace {

// Property: after any inserts and erases, holding / next_fit / prev_fit answer as a walk over
// a plain sorted map does, near 0 and near 2^64-1.
RC_GTEST_PROP(FreeExtents, AnswersAsAWalkOverEveryExtent, ()) {
  const uint64_t base = *rc::gen::element(uint64_t{0}, kMaxAddress - 1023);
  FreeExtents f;
  std::map<uint64_t, uint64_t> model;  // first -> last
  int steps = *rc::gen::inRange(1, 60);
  for (int i = 0; i < steps; ++i) {
    if (*rc::gen::inRange(0, 3) != 0 || model.empty()) {
      uint64_t a = *rc::gen::inRange<uint64_t>(0, 1024), b = *rc::gen::inRange<uint64_t>(0, 1024);
      Range r{base + std::min(a, b), base + std::max(a, b)};
      bool clear = std::none_of(model.begin(), model.end(), [&](const auto& e) {
        return Range{e.first, e.second}.overlaps(r);
      });
      if (!clear) continue;
      f.insert(r);
      model[r.first] = r.last;
    } else {
      auto it = std::next(model.begin(), *rc::gen::inRange<size_t>(0, model.size()));
      f.erase(it->first);
      model.erase(it);
    }
    RC_ASSERT(f.size() == model.size());
    uint64_t x = base + *rc::gen::inRange<uint64_t>(0, 1024);
    u128 size = *rc::gen::inRange<uint64_t>(1, 300);
    std::optional<Range> holding, next, prev;
    for (const auto& [first, last] : model) {
      Range r{first, last};
      if (r.contains(x)) holding = r;
      if (first >= x && r.size() >= size && !next) next = r;
      if (first < x && r.size() >= size) prev = r;
    }
    RC_ASSERT(f.holding(x) == holding);
    RC_ASSERT(f.next_fit(x, size) == next);
    RC_ASSERT(f.prev_fit(x, size) == prev);
  }
}

TEST(FreeExtents, EndsOfTheSpace) {
  FreeExtents f;
  f.insert({kMaxAddress, kMaxAddress});
  f.insert({0, 0});
  EXPECT_EQ(f.holding(kMaxAddress), (Range{kMaxAddress, kMaxAddress}));
  EXPECT_EQ(f.next_fit(1, 1), (Range{kMaxAddress, kMaxAddress}));
  EXPECT_EQ(f.prev_fit(kMaxAddress, 1), (Range{0, 0}));
  f.erase(kMaxAddress);
  EXPECT_FALSE(f.holding(kMaxAddress));
  EXPECT_EQ(f.size(), 1u);
}

}  // namespace
}  // namespace iovamap
