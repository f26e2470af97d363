// IovaAllocator against a brute-force model: a bitmap of 128 granules (usable / live), placed
// at the bottom of the space (granule 64 MiB, so 4 GiB is granule 64 and the PCI policy is
// exercised), or at the very top (granule 4 KiB, so every 2^64-1 edge is exercised). Every
// result is checked against the model; every failure must be one the model also finds.
#include "iovamap/iova_allocator.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <bitset>
#include <condition_variable>
#include <iterator>
#include <mutex>
#include <thread>

namespace iovamap {
namespace {

constexpr int kUniverse = 128;
using Bits = std::bitset<kUniverse>;

struct Universe {
  uint64_t base;     // address of granule 0 of the universe
  uint64_t granule;  // bytes
};

Universe universe_of(bool top) {
  if (top) return Universe{kMaxAddress - (kUniverse * uint64_t{4096}) + 1, 4096};
  return Universe{0, uint64_t{1} << 26};
}

// The model: which granules are usable and which are live.
struct Model {
  Universe u;
  Bits usable;
  Bits live;
  std::vector<Range> blocks;  // live blocks, as returned

  uint64_t addr(int i) const { return u.base + static_cast<uint64_t>(i) * u.granule; }
  uint64_t last_addr(int i) const { return addr(i) + u.granule - 1; }
  int index(uint64_t a) const { return static_cast<int>((a - u.base) / u.granule); }

  // Whether granules [x, x + n) are usable and not live.
  bool free_run(int x, int n) const {
    if (x < 0 || x + n > kUniverse) return false;
    for (int i = x; i < x + n; ++i) {
      if (!usable[i] || live[i]) return false;
    }
    return true;
  }
  // The highest start of a fit of n granules aligned to align granules ending at or below
  // limit, or -1.
  int highest_fit(int n, uint64_t align, uint64_t limit) const {
    for (int x = kUniverse - n; x >= 0; --x) {
      if (((addr(x) / u.granule) & (align - 1)) != 0) continue;
      if (last_addr(x + n - 1) > limit) continue;
      if (free_run(x, n)) return x;
    }
    return -1;
  }
  int longest_free_run() const {
    int best = 0, run = 0;
    for (int i = 0; i < kUniverse; ++i) {
      run = usable[i] && !live[i] ? run + 1 : 0;
      best = std::max(best, run);
    }
    return best;
  }
  void mark(const Range& r, bool on) {
    for (int i = index(r.first); i <= index(r.last); ++i) live[i] = on;
  }
};

uint64_t granules_for(uint64_t size, uint64_t granule) {
  uint64_t n = (size + granule - 1) / granule;
  return n < 32 ? std::bit_ceil(n) : n;
}

void check_stats(const IovaAllocator& a, const Model& m) {
  const AllocatorStats s = a.stats();
  RC_ASSERT(s.live_count == m.blocks.size());
  RC_ASSERT(s.usable_bytes == u128{m.usable.count()} * m.u.granule);
  RC_ASSERT(s.free_bytes == u128{(m.usable & ~m.live).count()} * m.u.granule);
}

void run_model(bool top, bool caches) {
  Model m{universe_of(top), {}, {}, {}};
  // Usable ranges in granules; granule 0 of the bottom universe holds IOVA 0.
  const auto spans = *rc::gen::container<std::vector<std::pair<int, int>>>(
      rc::gen::pair(rc::gen::inRange(0, kUniverse), rc::gen::inRange(1, 40)));
  RangeSet usable;
  for (auto [first, length] : spans) {
    const int last = std::min(kUniverse - 1, first + length - 1);
    usable.add(Range{m.addr(first), m.last_addr(last)});
  }
  for (int i = 0; i < kUniverse; ++i) {
    m.usable[i] = usable.holds(Range{m.addr(i), m.last_addr(i)}) && m.addr(i) != 0;
  }
  AllocatorOptions options;
  options.caches = caches;
  auto created = IovaAllocator::create(usable, m.u.granule, options);
  if (m.usable.none()) {
    RC_ASSERT(!created);
    return;
  }
  RC_ASSERT(created.ok());
  IovaAllocator& a = **created;

  const int steps = *rc::gen::inRange(1, 120);
  for (int step = 0; step < steps; ++step) {
    const int op = *rc::gen::inRange(0, 10);
    if (op < 5) {
      // allocate
      const uint64_t size = *rc::gen::inRange<uint64_t>(1, 40 * m.u.granule);
      const int align_log = *rc::gen::inRange(-1, 7);  // -1: default
      AllocOptions o;
      o.alignment = align_log < 0 ? 0 : m.u.granule << align_log;
      if (*rc::gen::arbitrary<bool>()) {
        o.limit = m.u.base + *rc::gen::inRange<uint64_t>(0, kUniverse * m.u.granule);
      }
      o.policy = *rc::gen::arbitrary<bool>() ? DmaPolicy::kPci32BitFirst : DmaPolicy::kTopDown;
      o.use_cache = *rc::gen::arbitrary<bool>();
      const uint64_t n = granules_for(size, m.u.granule);
      const uint64_t align = o.alignment == 0 ? std::bit_ceil(n) : uint64_t{1} << align_log;
      Result<Range> r = a.allocate(size, o);
      if (!r) {
        RC_ASSERT(r.error().code == ENOMEM);
        // A failure is only allowed when the model has no fit either (caches were returned).
        RC_ASSERT(n > kUniverse || m.highest_fit(static_cast<int>(n), align, o.limit) < 0);
        continue;
      }
      const Range b = *r;
      RC_ASSERT(b.first != 0);
      RC_ASSERT(b.first % m.u.granule == 0);
      RC_ASSERT(b.size() == u128{n} * m.u.granule);
      RC_ASSERT((b.first / m.u.granule) % align == 0);
      RC_ASSERT(b.last <= o.limit);
      RC_ASSERT(b.first >= m.u.base);
      RC_ASSERT(usable.holds(b));
      const int x = m.index(b.first);
      RC_ASSERT(m.free_run(x, static_cast<int>(n)));
      if (!caches) {
        // Without caches the search is exact top-down for power-of-two blocks at natural
        // alignment, and the PCI policy prefers any fit below 4 GiB.
        const bool pci = o.policy == DmaPolicy::kPci32BitFirst && o.limit > 0xffffffffull;
        const uint64_t limit = pci && m.highest_fit(static_cast<int>(n), align, 0xffffffff) >= 0
                                   ? 0xffffffffull
                                   : o.limit;
        if (std::has_single_bit(n) && align == n) {
          RC_ASSERT(x == m.highest_fit(static_cast<int>(n), align, limit));
        }
        RC_ASSERT(b.last <= limit);
      }
      m.mark(b, true);
      m.blocks.push_back(b);
    } else if (op < 7) {
      // allocate_at
      const int x = *rc::gen::inRange(0, kUniverse);
      const int n = *rc::gen::inRange(1, 10);
      Result<Range> r = a.allocate_at(m.addr(x), static_cast<uint64_t>(n) * m.u.granule);
      bool usable_run = x + n <= kUniverse;
      for (int i = x; usable_run && i < x + n; ++i) usable_run = m.usable[i];
      if (!usable_run) {
        RC_ASSERT(!r);
        RC_ASSERT(r.error().code == EINVAL);
      } else if (!m.free_run(x, n)) {
        RC_ASSERT(!r);
        RC_ASSERT(r.error().code == EBUSY);
      } else {
        RC_ASSERT(r.ok());
        RC_ASSERT(r->first == m.addr(x));
        RC_ASSERT(r->last == m.last_addr(x + n - 1));
        m.mark(*r, true);
        m.blocks.push_back(*r);
      }
    } else if (op < 9) {
      if (m.blocks.empty()) continue;
      const size_t i = *rc::gen::inRange<size_t>(0, m.blocks.size());
      RC_ASSERT(a.free(m.blocks[i], *rc::gen::arbitrary<bool>()).ok());
      m.mark(m.blocks[i], false);
      m.blocks.erase(m.blocks.begin() + static_cast<ptrdiff_t>(i));
    } else {
      a.release_caches();
      RC_ASSERT(a.stats().largest_free_block ==
                static_cast<u128>(m.longest_free_run()) * m.u.granule);
      RC_ASSERT(a.stats().cached_bytes == 0);
    }
    check_stats(a, m);
  }
  for (const Range& b : m.blocks) RC_ASSERT(a.free(b).ok());
  a.release_caches();
  m.live.reset();
  m.blocks.clear();
  check_stats(a, m);
  RC_ASSERT(a.stats().free_extents > 0);
  RC_ASSERT(a.stats().largest_free_block == static_cast<u128>(m.longest_free_run()) * m.u.granule);
}

RC_GTEST_PROP(IovaAllocator, MatchesBruteForceAtBottomWithCaches, ()) {
  run_model(false, true);
}
RC_GTEST_PROP(IovaAllocator, MatchesBruteForceAtBottomUncached, ()) {
  run_model(false, false);
}
RC_GTEST_PROP(IovaAllocator, MatchesBruteForceAtTopWithCaches, ()) {
  run_model(true, true);
}
RC_GTEST_PROP(IovaAllocator, MatchesBruteForceAtTopUncached, ()) {
  run_model(true, false);
}

std::unique_ptr<IovaAllocator> make(const RangeSet& usable, uint64_t granule = 4096,
                                    bool caches = true) {
  AllocatorOptions o;
  o.caches = caches;
  auto r = IovaAllocator::create(usable, granule, o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return std::move(*r);
}

// allocate_into and free_into are allocate and free without a Result: on two allocators over
// the same space, the same random operations give the same blocks, the same errnos and, through
// the error sink, the same messages; and the sink is called exactly when a call fails.
thread_local Error t_sunk;
thread_local int t_sink_calls = 0;
void sink(const Error& e) {
  t_sunk = e;
  ++t_sink_calls;
}

RC_GTEST_PROP(IovaAllocator, IntoCallsMatchTheResultCalls, ()) {
  const bool caches = *rc::gen::arbitrary<bool>();
  const RangeSet usable{Range{0x1000, 0x3fffff}, Range{0x500000, 0x8fffff}};
  auto a = make(usable, 4096, caches);
  auto b = make(usable, 4096, caches);
  std::vector<Range> live;
  const int steps = *rc::gen::inRange(1, 300);
  for (int step = 0; step < steps; ++step) {
    const int calls_before = t_sink_calls;
    if (live.empty() || *rc::gen::inRange(0, 3) != 0) {
      const uint64_t size = *rc::gen::inRange<uint64_t>(0, 0x90000);
      AllocOptions o;
      o.limit = *rc::gen::element<uint64_t>(0x3fffff, 0x8fffff, 0x1fff, kMaxAddress);
      o.alignment = *rc::gen::element<uint64_t>(0, 0x1000, 0x3000, 0x10000);
      Result<Range> want = a->allocate(size, o);
      Range got{1, 0};
      const int code = b->allocate_into(size, o, got, sink);
      if (want) {
        RC_ASSERT(code == 0);
        RC_ASSERT(got == *want);
        RC_ASSERT(t_sink_calls == calls_before);
        live.push_back(got);
      } else {
        RC_ASSERT(code == want.error().code);
        RC_ASSERT(t_sink_calls == calls_before + 1);
        RC_ASSERT(t_sunk.message == want.error().message);
        RC_ASSERT(got == (Range{1, 0}));  // untouched on failure
      }
    } else {
      const size_t i = *rc::gen::inRange<size_t>(0, live.size());
      // Now and then a block that is not one: misaligned, or freed twice.
      Range block = live[i];
      const int mangle = *rc::gen::inRange(0, 8);
      if (mangle == 0) block.first += 1;
      Status want = a->free(block);
      const int code = b->free_into(block, sink);
      if (want.ok()) {
        RC_ASSERT(code == 0);
        RC_ASSERT(t_sink_calls == calls_before);
        live.erase(live.begin() + static_cast<ptrdiff_t>(i));
      } else {
        RC_ASSERT(code == want.error().code);
        RC_ASSERT(t_sink_calls == calls_before + 1);
        RC_ASSERT(t_sunk.message == want.error().message);
      }
    }
  }
  // Without a sink a failure is still reported.
  Range unused;
  RC_ASSERT(b->allocate_into(0, {}, unused) == EINVAL);
  RC_ASSERT(b->free_into(Range{1, 0x1000}) == EINVAL);
}

TEST(IovaAllocator, RejectsBadConstruction) {
  EXPECT_EQ(IovaAllocator::create(RangeSet{Range{0, 0xffff}}, 3).error().code, EINVAL);
  EXPECT_EQ(IovaAllocator::create(RangeSet{Range{0, 0xffff}}, 0).error().code, EINVAL);
  // Only the granule of IOVA 0 is whole: nothing usable.
  EXPECT_EQ(IovaAllocator::create(RangeSet{Range{0, 0xfff}}, 4096).error().code, EINVAL);
  // No whole granule inside.
  EXPECT_EQ(IovaAllocator::create(RangeSet{Range{0x1001, 0x2ffe}}, 4096).error().code, EINVAL);
  EXPECT_EQ(IovaAllocator::create(RangeSet{}, 4096).error().code, EINVAL);
}

TEST(IovaAllocator, NeverReturnsZeroAndTrimsToGranules) {
  auto a = make(RangeSet{Range{0, 0x2fff}, Range{0x10001, 0x13ffe}});
  // Usable granules: 0x1000, 0x2000, 0x11000, 0x12000.
  EXPECT_EQ(a->stats().usable_bytes, u128{0x4000});
  std::vector<Range> got;
  for (int i = 0; i < 4; ++i) got.push_back(*a->allocate(1));
  EXPECT_FALSE(a->allocate(1).ok());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got[0], (Range{0x1000, 0x1fff}));
  EXPECT_EQ(got[3], (Range{0x12000, 0x12fff}));
  EXPECT_EQ(a->allocate(1).error().code, ENOMEM);
}

TEST(IovaAllocator, TopOfTheSpace) {
  auto a = make(RangeSet{Range{kMaxAddress - 0x3fff, kMaxAddress}}, 4096, false);
  Result<Range> r = a->allocate(0x2000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (Range{kMaxAddress - 0x1fff, kMaxAddress}));
  EXPECT_EQ(a->allocate_at(kMaxAddress - 0x3fff, 0x3000).error().code, EBUSY);
  EXPECT_EQ(a->allocate_at(kMaxAddress - 0xfff, 0x2000).error().code, EINVAL);  // passes 2^64
  EXPECT_TRUE(a->free(*r).ok());
  EXPECT_EQ(a->stats().largest_free_block, u128{0x4000});
  // 16 KiB at natural alignment fits exactly at the top.
  EXPECT_EQ(*a->allocate(0x4000), (Range{kMaxAddress - 0x3fff, kMaxAddress}));
}

TEST(IovaAllocator, NeverCrossesAHole) {
  // Two usable ranges around an MSI window; 2 MiB blocks must not straddle it.
  auto a =
      make(RangeSet{Range{0xfe000000, 0xfedfffff}, Range{0xfef00000, 0xff0fffff}}, 4096, false);
  std::vector<Range> got;
  while (true) {
    Result<Range> r = a->allocate(0x100000);
    if (!r) break;
    EXPECT_FALSE(r->overlaps(Range{0xfee00000, 0xfeefffff}));
    got.push_back(*r);
  }
  EXPECT_EQ(got.size(), 14u + 2u);
  EXPECT_EQ(a->allocate_at(0xfed00000, 0x200000).error().code, EINVAL);
}

TEST(IovaAllocator, LimitIsInclusiveAndPciPolicyPrefersLow) {
  auto a = make(RangeSet{Range{0x1000, 0xffffffffff}}, 4096, false);
  EXPECT_EQ(*a->allocate(0x1000, {.limit = 0xffffffff}), (Range{0xfffff000, 0xffffffff}));
  EXPECT_EQ(*a->allocate(0x1000, {.limit = 0xfffffffe}), (Range{0xffffe000, 0xffffefff}));
  EXPECT_EQ(*a->allocate(0x1000), (Range{0xfffffff000, 0xffffffffff}));
  EXPECT_EQ(*a->allocate(0x1000, {.policy = DmaPolicy::kPci32BitFirst}),
            (Range{0xffffd000, 0xffffdfff}));
  EXPECT_EQ(a->allocate(0x1000, {.limit = 0xffe}).error().code, ENOMEM);
  EXPECT_EQ(a->allocate(0x1000, {.alignment = 3}).error().code, EINVAL);
  EXPECT_EQ(a->allocate(0).error().code, EINVAL);
}

TEST(IovaAllocator, DetectsDoubleFreeInTheTree) {
  auto a = make(RangeSet{Range{0x1000, 0xfffff}}, 4096, false);
  Range r = *a->allocate(0x3000);
  EXPECT_EQ(r.size(), u128{0x4000});  // below 32 granules: rounded to a power of two
  EXPECT_TRUE(a->free(r).ok());
  EXPECT_EQ(a->free(r).error().code, EINVAL);
  EXPECT_EQ(a->free(Range{0x1000, 0x1ffe}).error().code, EINVAL);      // not whole granules
  EXPECT_EQ(a->free(Range{0x100000, 0x100fff}).error().code, EINVAL);  // not usable
}

TEST(IovaAllocator, CachesAreReturnedBeforeFailing) {
  auto a = make(RangeSet{Range{0x1000, 0x8fff}});  // 8 granules
  std::vector<Range> got;
  for (int i = 0; i < 8; ++i) got.push_back(*a->allocate(0x1000));
  for (const Range& r : got) ASSERT_TRUE(a->free(r).ok());
  EXPECT_EQ(a->stats().cached_bytes, u128{0x8000});
  EXPECT_EQ(a->stats().largest_free_block, u128{0});
  // 32 KiB needs all of it: only possible once the caches were returned.
  Result<Range> big = a->allocate(0x8000, {.alignment = 0x1000});
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(*big, (Range{0x1000, 0x8fff}));
  EXPECT_EQ(a->stats().cached_bytes, u128{0});
  EXPECT_TRUE(a->free(*big).ok());
  // A fixed placement over cached blocks also returns them first.
  Range one = *a->allocate(0x1000);
  ASSERT_TRUE(a->free(one).ok());
  EXPECT_TRUE(a->allocate_at(one.first, 0x1000).ok());
}

TEST(IovaAllocator, TakesBackTheCachesOfOtherThreads) {
  auto a = make(RangeSet{Range{0x1000, 0x8fff}});  // 8 granules
  std::mutex mu;
  std::condition_variable cv;
  bool cached = false, done = false;
  std::thread owner([&] {
    std::vector<Range> got;
    for (int i = 0; i < 8; ++i) got.push_back(*a->allocate(0x1000));
    for (const Range& r : got) ASSERT_TRUE(a->free(r).ok());
    std::unique_lock<std::mutex> lock(mu);
    cached = true;
    cv.notify_all();
    cv.wait(lock, [&] { return done; });  // alive, holding its cache
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return cached; });
  }
  EXPECT_EQ(a->stats().cached_bytes, u128{0x8000});
  Result<Range> all = a->allocate(0x8000, {.alignment = 0x1000});
  EXPECT_TRUE(all.ok());
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  owner.join();
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(a->free(*all).ok());
}

TEST(IovaAllocator, AnExitingThreadReturnsItsCache) {
  auto a = make(RangeSet{Range{0x1000, 0xfffff}});
  std::thread([&] {
    for (int i = 0; i < 100; ++i) {
      Range r = *a->allocate(0x1000 << (i % 4));
      ASSERT_TRUE(a->free(r).ok());
    }
  }).join();
  const AllocatorStats s = a->stats();
  EXPECT_EQ(s.cached_bytes, u128{0});
  EXPECT_EQ(s.free_extents, 1u);
  EXPECT_EQ(s.free_bytes, u128{0xff000});
}

// One thread allocates, another frees (the network pattern): the freeing thread's full
// magazines go to the depot and come back, blocks intact, to the allocating thread. Each round
// runs on new threads, which reuse the magazines of the threads that exited.
TEST(IovaAllocator, MagazinesChangeHandsThroughTheDepot) {
  constexpr uint64_t kGranules = 8192;
  constexpr size_t kBlocks = 1000;  // more than a thread's two magazines of 128
  auto a = make(RangeSet{Range{0x1000, kGranules * 0x1000 - 1}});
  for (int round = 0; round < 3; ++round) {
    std::vector<Range> first, second;
    std::thread([&] {
      for (size_t i = 0; i < kBlocks; ++i) first.push_back(*a->allocate(0x1000));
    }).join();
    // The allocating thread has exited; a new one frees everything.
    std::thread([&] {
      for (const Range& r : first) ASSERT_TRUE(a->free(r).ok());
      EXPECT_EQ(a->stats().cached_bytes, u128{kBlocks} * 0x1000);
      // A third thread, with empty magazines, allocates while this one still lives: it can
      // only get these blocks back from the depot.
      std::thread([&] {
        for (size_t i = 0; i < kBlocks; ++i) second.push_back(*a->allocate(0x1000));
      }).join();
    }).join();
    std::sort(first.begin(), first.end());
    std::sort(second.begin(), second.end());
    EXPECT_EQ(std::adjacent_find(second.begin(), second.end()), second.end());
    std::vector<Range> reused;
    std::set_intersection(first.begin(), first.end(), second.begin(), second.end(),
                          std::back_inserter(reused));
    // At most the freeing thread's two magazines stayed behind; the rest came via the depot.
    EXPECT_GE(reused.size(), kBlocks - 256) << "round " << round;
    EXPECT_EQ(a->stats().live_count, kBlocks);
    for (const Range& r : second) ASSERT_TRUE(a->free(r).ok());
    a->release_caches();
    const AllocatorStats s = a->stats();
    EXPECT_EQ(s.live_count, 0u);
    EXPECT_EQ(s.cached_bytes, u128{0});
    EXPECT_EQ(s.free_extents, 1u);
  }
}

TEST(IovaAllocator, ThreadsNeverShareABlock) {
  constexpr uint64_t kGranules = 4096;
  auto a = make(RangeSet{Range{0x1000, kGranules * 0x1000 - 1}});
  std::vector<std::atomic<int>> owner(kGranules);
  std::atomic<bool> overlap{false};
  auto worker = [&](int id) {
    std::vector<Range> mine;
    uint64_t seed = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(id + 1);
    for (int i = 0; i < 20000; ++i) {
      seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
      if (mine.size() < 64 && (seed & 3) != 0) {
        Result<Range> r = a->allocate(0x1000ull << (seed >> 8) % 4);
        if (!r) continue;
        for (uint64_t g = r->first >> 12; g <= r->last >> 12; ++g) {
          int expected = 0;
          if (!owner[g].compare_exchange_strong(expected, id)) overlap = true;
        }
        mine.push_back(*r);
      } else if (!mine.empty()) {
        const Range r = mine[(seed >> 20) % mine.size()];
        std::erase(mine, r);
        for (uint64_t g = r.first >> 12; g <= r.last >> 12; ++g) owner[g] = 0;
        if (!a->free(r).ok()) overlap = true;
      }
    }
    for (const Range& r : mine) {
      for (uint64_t g = r.first >> 12; g <= r.last >> 12; ++g) owner[g] = 0;
      if (!a->free(r).ok()) overlap = true;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t <= 3; ++t) threads.emplace_back(worker, t);
  for (auto& t : threads) t.join();
  EXPECT_FALSE(overlap.load());
  a->release_caches();
  const AllocatorStats s = a->stats();
  EXPECT_EQ(s.live_count, 0u);
  EXPECT_EQ(s.free_extents, 1u);
  EXPECT_EQ(s.largest_free_block, u128{(kGranules - 1) * 0x1000});
}

}  // namespace
}  // namespace iovamap
