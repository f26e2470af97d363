// IovaAllocator: a treap of free extents (src/extent_tree.h) plus per-thread magazine caches
// (see the header).
//
// All tree coordinates are granule numbers ("pfns"): extent [first, last] covers the bytes
// [first << shift, ((last + 1) << shift) - 1]. pfn 0 is never in the tree, so lengths never
// overflow and IOVA 0 is never handed out.
#include "iovamap/iova_allocator.h"

#include "iovamap/iovamap.h"

#include "c_api_handles.h"
#include "extent_tree.h"
#include "spin_lock.h"

#include <linux/membarrier.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace iovamap {
namespace {

using extents::ExtentTree;
using extents::Fit;
using extents::floor_log2;
using extents::kNil;
using extents::Node;
using extents::Request;

constexpr unsigned kOrders = 6;       // cached classes: 1, 2, 4, 8, 16, 32 granules
constexpr uint64_t kRoundBelow = 32;  // sizes below this many granules round to a power of 2
constexpr unsigned kMagSize = 128;    // pfns per magazine
constexpr unsigned kDepotMags = 32;   // full magazines kept globally per class

// std::has_single_bit without -mpopcnt is a library call; this is two instructions.
constexpr bool is_pow2(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}
int ceil_log2(uint64_t v) {
  return v <= 1 ? 0 : 64 - std::countl_zero(v - 1);
}

// A magazine of cached blocks of one size class (the magazine scheme of Bonwick and Adams,
// which the kernel's drivers/iommu/iova.c rcache also follows). `count` is atomic only so that
// stats() may read it while the owner writes it; the owner never needs a read-modify-write.
// Magazines move between threads and the depot by pointer; each starts on its own cache line
// so that one thread filling a magazine never shares a line with another thread's.
struct alignas(64) Magazine {
  std::atomic<uint32_t> count{0};
  uint64_t pfns[kMagSize];
  uint32_t size() const { return count.load(std::memory_order_relaxed); }
  void set_size(uint32_t n) { count.store(n, std::memory_order_relaxed); }
};

// One thread's caches for one allocator: a loaded and a spare magazine per size class (owned
// by the allocator's magazine pool: they change hands with the depot).
//
// The owner thread uses them without any atomic read-modify-write: it announces itself in
// `active` with a plain store and then checks `frozen`. A thread that wants the blocks back
// (release_all) sets `frozen`, forces a memory barrier on every thread of the process
// (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)) and waits for `active` to drop: afterwards
// the owner either was seen active, or sees `frozen` and stays away (an asymmetric Dekker
// protocol, as in liburcu). Without membarrier, the owner's store is an atomic exchange.
struct alignas(64) ThreadCache {
  std::atomic<uint32_t> active{0};
  std::atomic<uint32_t> frozen{0};
  Magazine* loaded[kOrders] = {};
  Magazine* spare[kOrders] = {};
  bool empty() const {
    for (unsigned k = 0; k < kOrders; ++k) {
      if (loaded[k]->size() != 0 || spare[k]->size() != 0) return false;
    }
    return true;
  }
};

// Full magazines handed between threads. Per class, mags[k][0 .. count[k]-1] are full and the
// rest are empty, so that a hand-off is a pointer swap under the lock (a thread with a full
// magazine trades it for an empty one, a thread with an empty one for a full one): no blocks
// are copied, and the lock is held for a few instructions.
struct Depot {
  alignas(64) SpinLock lock;
  uint32_t count[kOrders] = {};
  Magazine* mags[kOrders][kDepotMags] = {};
};

// Registers the process for expedited private membarrier once; false when unavailable.
bool asymmetric_fence_available() {
  static const bool available = [] {
    const long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
    return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
  }();
  return available;
}

std::atomic<uint64_t> next_allocator_id{1};

}  // namespace

// The calling thread's caches, one entry per allocator it has used. On thread exit every
// cache still owned by a live allocator is handed back to it.
struct ThreadCaches {
  struct Entry {
    uint64_t id;
    ThreadCache* cache;
    std::weak_ptr<IovaAllocator::Impl> owner;
  };
  std::vector<Entry> entries;
  ~ThreadCaches();
};

namespace {
thread_local ThreadCaches t_caches;
thread_local uint64_t t_last_id = 0;  // the allocator t_last belongs to
thread_local ThreadCache* t_last = nullptr;
}  // namespace

struct IovaAllocator::Impl {
  unsigned shift = 0;
  uint64_t granule = 0;
  RangeSet usable;                 // trimmed to whole granules, granule 0 removed
  std::vector<Range> usable_list;  // the same ranges, for the inline check below
  u128 usable_bytes = 0;
  bool caches = true;

  mutable SpinLock tree_lock;  // a spinlock, like the kernel's iova_rbtree_lock
  ExtentTree tree;
  uint64_t tree_blocks = 0;    // blocks carved from the tree (live or cached)
  uint64_t tree_granules = 0;  // their granules

  const uint64_t id = next_allocator_id.fetch_add(1);
  bool asymmetric = false;           // membarrier available
  mutable std::mutex drain_lock;     // release_all, retire, stats: one at a time
  mutable std::mutex registry_lock;  // the list and the pool below
  std::vector<std::unique_ptr<ThreadCache>> registry;
  // Every magazine: the depot's and the threads'. Those of exited threads wait (empty) in
  // idle_mags for the next new thread.
  std::vector<std::unique_ptr<Magazine>> mag_pool;
  std::vector<Magazine*> idle_mags;
  mutable Depot depot;

  // A magazine for a new thread or the depot, empty. Under registry_lock (or before sharing).
  Magazine* take_magazine() {
    if (!idle_mags.empty()) {
      Magazine* m = idle_mags.back();
      idle_mags.pop_back();
      return m;
    }
    mag_pool.push_back(std::make_unique<Magazine>());
    return mag_pool.back().get();
  }

  // Whether one usable range holds all of r (RangeSet::holds, inlined for the hot path).
  bool usable_holds(const Range& r) const {
    if (usable_list.size() <= 4) {
      for (const Range& u : usable_list) {
        if (u.first <= r.first && r.last <= u.last) return true;
      }
      return false;
    }
    return usable.holds(r);
  }

  // This thread's cache for this allocator, created on first use.
  [[gnu::always_inline]] ThreadCache& thread_cache() {
    if (t_last_id == id) return *t_last;
    return thread_cache_slow();
  }

  [[gnu::noinline]] ThreadCache& thread_cache_slow() {
    for (const ThreadCaches::Entry& e : t_caches.entries) {
      if (e.id == id) {
        t_last_id = id;
        t_last = e.cache;
        return *e.cache;
      }
    }
    std::erase_if(t_caches.entries, [](const ThreadCaches::Entry& e) { return e.owner.expired(); });
    auto owned = std::make_unique<ThreadCache>();
    ThreadCache* cache = owned.get();
    {
      std::lock_guard<std::mutex> guard(registry_lock);
      for (unsigned k = 0; k < kOrders; ++k) {
        cache->loaded[k] = take_magazine();
        cache->spare[k] = take_magazine();
      }
      registry.push_back(std::move(owned));
    }
    t_caches.entries.push_back({id, cache, self});
    t_last_id = id;
    t_last = cache;
    return *cache;
  }

  // Enters the owner's section; false when a drain froze the cache (then stay away).
  [[gnu::always_inline]] bool enter(ThreadCache& tc) {
    if (asymmetric) {
      tc.active.store(1, std::memory_order_relaxed);
      std::atomic_signal_fence(std::memory_order_seq_cst);
      if (tc.frozen.load(std::memory_order_relaxed) == 0) return true;
    } else {
      tc.active.exchange(1, std::memory_order_seq_cst);
      if (tc.frozen.load(std::memory_order_seq_cst) == 0) return true;
    }
    tc.active.store(0, std::memory_order_release);
    return false;
  }
  [[gnu::always_inline]] void leave(ThreadCache& tc) {
    tc.active.store(0, std::memory_order_release);
  }

  std::weak_ptr<Impl> self;  // set by create()

  // Last pfn whose whole granule lies at or below `limit`; false when there is none.
  bool limit_pfn(uint64_t limit, uint64_t& pfn) const {
    if ((limit & (granule - 1)) == granule - 1) {
      pfn = limit >> shift;
      return true;
    }
    if ((limit >> shift) == 0) return false;
    pfn = (limit >> shift) - 1;
    return true;
  }

  // Tree allocation under tree_lock. Returns the start pfn or false.
  bool tree_allocate_locked(uint64_t size, uint64_t align, uint64_t limit, uint64_t& start) {
    const Request q{size, align, limit};
    // An extent can hold the block only if it holds an aligned block of order need_low, and
    // surely does if it holds one of order need_high. For power-of-two sizes at natural
    // alignment the two agree and one search is exact. Otherwise take the highest extent that
    // surely fits (a guaranteed O(log n) search), and only if there is none, look at every
    // extent that might.
    const int need_low = std::min(std::countr_zero(align), floor_log2(size));
    const int need_high = std::max(std::countr_zero(align), ceil_log2(size));
    Fit fit;
    bool found = tree.find(q, need_high, fit);
    if (!found && need_low != need_high) found = tree.find(q, need_low, fit);
    if (!found) return false;
    tree.carve(fit.node, fit.start, size, true);
    ++tree_blocks;
    tree_granules += size;
    start = fit.start;
    return true;
  }

  bool tree_allocate(uint64_t size, uint64_t align, uint64_t limit, uint64_t& start) {
    std::lock_guard<SpinLock> guard(tree_lock);
    return tree_allocate_locked(size, align, limit, start);
  }

  bool tree_give_back_locked(uint64_t first, uint64_t size) {
    if (!tree.give_back(first, first + size - 1)) return false;
    --tree_blocks;
    tree_granules -= size;
    return true;
  }

  // Takes a cached block of class k ending at or below limit from this thread's cache.
  [[gnu::always_inline]] bool cache_pop(unsigned k, uint64_t limit, uint64_t& start) {
    const uint64_t size = uint64_t{1} << k;
    if (limit < size) return false;
    const uint64_t highest = limit - size + 1;
    ThreadCache& tc = thread_cache();
    if (!enter(tc)) return false;
    bool found = false;
    if (tc.loaded[k]->size() != 0 || refill(tc, k)) {
      Magazine* mag = tc.loaded[k];
      for (uint32_t i = mag->size(); i-- > 0;) {
        if (mag->pfns[i] <= highest) {
          start = mag->pfns[i];
          const uint32_t last = mag->size() - 1;
          mag->pfns[i] = mag->pfns[last];
          mag->set_size(last);
          found = true;
          break;
        }
      }
    }
    leave(tc);
    return found;
  }

  // In the owner's section, with the loaded magazine of class k empty: makes it non-empty
  // from the spare or the depot. False when both are empty too.
  [[gnu::noinline]] bool refill(ThreadCache& tc, unsigned k) {
    if (tc.spare[k]->size() != 0) {
      std::swap(tc.loaded[k], tc.spare[k]);
      return true;
    }
    std::lock_guard<SpinLock> depot_guard(depot.lock);
    if (depot.count[k] == 0) return false;
    std::swap(tc.loaded[k], depot.mags[k][--depot.count[k]]);  // ours was empty
    return true;
  }

  // In the owner's section, with the loaded magazine of class k full: makes room by swapping
  // with the spare, moving the magazine to the depot or, when that is full, returning its
  // blocks to the tree.
  [[gnu::noinline]] void make_room(ThreadCache& tc, unsigned k) {
    if (tc.spare[k]->size() < kMagSize) {
      std::swap(tc.loaded[k], tc.spare[k]);
      return;
    }
    Magazine* mag = tc.loaded[k];
    {
      std::lock_guard<SpinLock> depot_guard(depot.lock);
      if (depot.count[k] < kDepotMags) {
        std::swap(tc.loaded[k], depot.mags[k][depot.count[k]++]);  // theirs was empty
        return;
      }
    }
    std::lock_guard<SpinLock> tree_guard(tree_lock);
    give_back_magazine_locked(*mag, k);
  }

  // Puts a block of class k in this thread's cache; false when the cache is frozen.
  [[gnu::always_inline]] bool cache_push(unsigned k, uint64_t start) {
    ThreadCache& tc = thread_cache();
    if (!enter(tc)) return false;
    if (tc.loaded[k]->size() == kMagSize) make_room(tc, k);
    Magazine* mag = tc.loaded[k];
    const uint32_t n = mag->size();
    mag->pfns[n] = start;
    mag->set_size(n + 1);
    leave(tc);
    return true;
  }

  void give_back_magazine_locked(Magazine& mag, unsigned k) {
    for (uint32_t i = 0; i < mag.size(); ++i) tree_give_back_locked(mag.pfns[i], uint64_t{1} << k);
    mag.set_size(0);
  }

  void give_back_cache_locked(ThreadCache& tc) {
    for (unsigned k = 0; k < kOrders; ++k) {
      give_back_magazine_locked(*tc.loaded[k], k);
      give_back_magazine_locked(*tc.spare[k], k);
    }
  }

  // A thread that used this allocator exits: its cache goes back to the tree.
  void retire(ThreadCache* cache) {
    std::lock_guard<std::mutex> drain_guard(drain_lock);
    {
      std::lock_guard<SpinLock> tree_guard(tree_lock);
      give_back_cache_locked(*cache);
    }
    std::lock_guard<std::mutex> guard(registry_lock);
    for (unsigned k = 0; k < kOrders; ++k) {  // emptied above
      idle_mags.push_back(cache->loaded[k]);
      idle_mags.push_back(cache->spare[k]);
    }
    std::erase_if(registry,
                  [&](const std::unique_ptr<ThreadCache>& c) { return c.get() == cache; });
  }

  // Returns every cached block, of every thread and the depot, to the tree.
  void release_all() {
    std::lock_guard<std::mutex> drain_guard(drain_lock);
    std::vector<ThreadCache*> holding;
    {
      std::lock_guard<std::mutex> guard(registry_lock);
      for (const auto& c : registry) {
        if (!c->empty()) holding.push_back(c.get());
      }
    }
    if (!holding.empty()) {
      for (ThreadCache* c : holding) c->frozen.store(1, std::memory_order_seq_cst);
      if (asymmetric) syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
      for (ThreadCache* c : holding) {
        while (c->active.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
      }
      {
        std::lock_guard<SpinLock> tree_guard(tree_lock);
        for (ThreadCache* c : holding) give_back_cache_locked(*c);
      }
      for (ThreadCache* c : holding) c->frozen.store(0, std::memory_order_release);
    }
    std::lock_guard<SpinLock> depot_guard(depot.lock);
    bool any = false;
    for (unsigned k = 0; k < kOrders; ++k) any |= depot.count[k] != 0;
    if (!any) return;
    std::lock_guard<SpinLock> tree_guard(tree_lock);
    for (unsigned k = 0; k < kOrders; ++k) {
      for (uint32_t m = 0; m < depot.count[k]; ++m) give_back_magazine_locked(*depot.mags[k][m], k);
      depot.count[k] = 0;
    }
  }

  // One attempt below `limit` (a pfn); `release` returns the caches before giving up.
  bool allocate_below(uint64_t size, uint64_t align, bool cacheable, uint64_t limit, bool release,
                      uint64_t& start) {
    if (cacheable && cache_pop(static_cast<unsigned>(std::countr_zero(size)), limit, start)) {
      return true;
    }
    if (tree_allocate(size, align, limit, start)) return true;
    if (!release || !caches) return false;
    release_all();
    return tree_allocate(size, align, limit, start);
  }

  Range to_range(uint64_t start, uint64_t size) const {
#ifdef __SSE2__
    // Built in one vector register so that it lands in the Result with one 16-byte store:
    // callers typically copy the Range out with one 16-byte load, and two 8-byte stores would
    // defeat store-to-load forwarding (a stall that cost a third of a cached allocation).
    const __m128i both = _mm_set_epi64x(static_cast<int64_t>(((start + size) << shift) - 1),
                                        static_cast<int64_t>(start << shift));
    return std::bit_cast<Range>(both);
#else
    return Range{start << shift, ((start + size) << shift) - 1};
#endif
  }

  // What the per-thread cache did for an allocation: handed out a block, had none for a
  // cacheable request (the slow path need not look again), or was not asked.
  enum class CacheTry { kHit, kMiss, kSkipped };

  // The hot path of allocate and allocate_into: a cached size class at natural alignment,
  // taken from this thread's cache.
  [[gnu::always_inline]] CacheTry cached_allocate(uint64_t size, const AllocOptions& options,
                                                  Range& out) {
    if (!caches || !options.use_cache || options.alignment != 0 ||
        size - 1 >= (kRoundBelow << shift) ||
        (options.policy != DmaPolicy::kTopDown && options.limit > 0xffffffffull)) {
      return CacheTry::kSkipped;
    }
    const unsigned k = static_cast<unsigned>(ceil_log2(((size - 1) >> shift) + 1));
    uint64_t limit, start;
    if (!limit_pfn(options.limit, limit)) return CacheTry::kSkipped;
    if (!cache_pop(k, limit, start)) return CacheTry::kMiss;
    out = to_range(start, uint64_t{1} << k);
    return CacheTry::kHit;
  }

  // The hot path of free and free_into: a naturally aligned block of a cached class into this
  // thread's cache. False: the slow path must take it (or refuse it).
  [[gnu::always_inline]] bool cached_free(const Range& block) {
    const uint64_t low_bits = granule - 1;
    if (!caches || ((block.first | ~block.last) & low_bits) != 0 || block.first > block.last)
      return false;
    const uint64_t first = block.first >> shift;
    const uint64_t granules = ((block.last - block.first) >> shift) + 1;
    return granules <= kRoundBelow && is_pow2(granules) && (first & (granules - 1)) == 0 &&
           usable_holds(block) &&
           cache_push(static_cast<unsigned>(std::countr_zero(granules)), first);
  }
};

ThreadCaches::~ThreadCaches() {
  for (const Entry& e : entries) {
    if (auto owner = e.owner.lock()) owner->retire(e.cache);
  }
}

IovaAllocator::IovaAllocator(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
IovaAllocator::~IovaAllocator() = default;

Result<std::unique_ptr<IovaAllocator>> IovaAllocator::create(const RangeSet& usable,
                                                             uint64_t granule,
                                                             const AllocatorOptions& options) {
  if (granule == 0 || !is_pow2(granule)) {
    return make_error(EINVAL, "IOVA allocator: granule " + hex(granule) + " is not a power of two");
  }
  auto impl = std::make_shared<Impl>();
  impl->self = impl;
  impl->granule = granule;
  impl->shift = static_cast<unsigned>(std::countr_zero(granule));
  impl->caches = options.caches;
  for (const Range& r : usable) {
    // Shrink inward to whole granules; skip the granule of IOVA 0, as the kernel's DMA layer
    // does (drivers/iommu/dma-iommu.c, iommu_dma_init_domain: the first pfn is at least 1,
    // the granule being the domain's smallest page size).
    // No overflow: a partial first granule is at most pfn 2^(64-shift)-1, and shift > 0 then.
    uint64_t first_pfn = (r.first >> impl->shift) + ((r.first & (granule - 1)) != 0 ? 1 : 0);
    uint64_t last_pfn;
    if (!impl->limit_pfn(r.last, last_pfn)) continue;
    if (first_pfn == 0) first_pfn = 1;
    if (first_pfn > last_pfn) continue;
    impl->tree.add(first_pfn, last_pfn);
    const Range bytes = impl->to_range(first_pfn, last_pfn - first_pfn + 1);
    impl->usable.add(bytes);
    impl->usable_bytes += bytes.size();
  }
  impl->usable_list = impl->usable.ranges();
  if (impl->usable.empty()) {
    return make_error(EINVAL, "IOVA allocator: no whole " + human_size(granule) +
                                  " granule is usable in " + to_string(usable));
  }
  if (options.caches) {
    impl->asymmetric = asymmetric_fence_available();
    for (unsigned k = 0; k < kOrders; ++k) {
      for (unsigned j = 0; j < kDepotMags; ++j) impl->depot.mags[k][j] = impl->take_magazine();
    }
  }
  return std::unique_ptr<IovaAllocator>(new IovaAllocator(std::move(impl)));
}

Result<Range> IovaAllocator::allocate(uint64_t size, const AllocOptions& options) {
  Range r;
  switch (impl_->cached_allocate(size, options, r)) {
    case Impl::CacheTry::kHit:
      return r;
    case Impl::CacheTry::kMiss:
      return allocate_slow(size, options, true);
    case Impl::CacheTry::kSkipped:
      break;
  }
  return allocate_slow(size, options, false);
}

int IovaAllocator::allocate_into(uint64_t size, const AllocOptions& options, Range& out,
                                 ErrorSink on_error) {
  const Impl::CacheTry t = impl_->cached_allocate(size, options, out);
  if (t == Impl::CacheTry::kHit) [[likely]]
    return 0;
  return allocate_into_slow(size, options, t == Impl::CacheTry::kMiss, out, on_error);
}

int IovaAllocator::allocate_into_slow(uint64_t size, const AllocOptions& options, bool tried_cache,
                                      Range& out, ErrorSink on_error) {
  Result<Range> r = allocate_slow(size, options, tried_cache);
  if (r) {
    out = *r;
    return 0;
  }
  if (on_error) on_error(r.error());
  return r.error().code;
}

Result<Range> IovaAllocator::allocate_slow(uint64_t size, const AllocOptions& options,
                                           bool tried_cache) {
  Impl& m = *impl_;
  if (size == 0) return make_error(EINVAL, "IOVA allocation of 0 bytes");
  if (options.alignment != 0 && !is_pow2(options.alignment)) {
    return make_error(EINVAL,
                      "IOVA alignment " + hex(options.alignment) + " is not a power of two");
  }
  uint64_t granules = (size >> m.shift) + ((size & (m.granule - 1)) != 0 ? 1 : 0);
  if (granules < kRoundBelow) granules = std::bit_ceil(granules);
  const auto no_fit = [&] {
    return make_error(ENOMEM, "no free IOVA block of " + human_size(u128{granules} << m.shift) +
                                  " below " + hex(options.limit));
  };
  uint64_t align;
  if (options.alignment == 0) {
    if (granules > (uint64_t{1} << 63)) return no_fit();
    align = std::bit_ceil(granules);
  } else {
    align = std::max<uint64_t>(1, options.alignment >> m.shift);
  }
  uint64_t limit;
  if (!m.limit_pfn(options.limit, limit)) return no_fit();
  const bool cacheable =
      m.caches && options.use_cache && granules <= kRoundBelow && align <= granules && !tried_cache;
  uint64_t start;
  if (options.policy == DmaPolicy::kPci32BitFirst && options.limit > 0xffffffffull) {
    uint64_t limit32;
    if (m.limit_pfn(0xffffffffull, limit32) &&
        m.allocate_below(granules, align, cacheable, limit32, false, start)) {
      return m.to_range(start, granules);
    }
  }
  if (!m.allocate_below(granules, align, cacheable, limit, true, start)) return no_fit();
  return m.to_range(start, granules);
}

Result<Range> IovaAllocator::allocate_at(uint64_t iova, uint64_t size) {
  Impl& m = *impl_;
  if (size == 0) return make_error(EINVAL, "IOVA placement of 0 bytes at " + hex(iova));
  if ((iova & (m.granule - 1)) != 0) {
    return make_error(EINVAL, "IOVA " + hex(iova) + " is not aligned to the " +
                                  human_size(m.granule) + " granule");
  }
  const uint64_t granules = (size >> m.shift) + ((size & (m.granule - 1)) != 0 ? 1 : 0);
  const uint64_t first = iova >> m.shift;
  if (granules - 1 > (kMaxAddress >> m.shift) - first) {
    return make_error(
        EINVAL, "IOVA placement at " + hex(iova) + " of " + human_size(size) + " passes 2^64");
  }
  const Range want = m.to_range(first, granules);
  if (!m.usable.holds(want)) {
    return make_error(EINVAL,
                      "IOVA placement " + to_string(want) + " is not inside one usable range");
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    {
      std::lock_guard<SpinLock> guard(m.tree_lock);
      uint32_t pred, succ;
      m.tree.neighbours(first, pred, succ);
      if (pred != kNil && m.tree.at(pred).last >= first + granules - 1) {
        m.tree.carve(pred, first, granules);
        ++m.tree_blocks;
        m.tree_granules += granules;
        return want;
      }
    }
    if (!m.caches) break;
    m.release_all();
  }
  return make_error(EBUSY, "IOVA placement " + to_string(want) + " overlaps a live block");
}

Status IovaAllocator::free(const Range& block, bool use_cache) {
  if (use_cache && impl_->cached_free(block)) {
    // Default-initialised, not value-initialised (`return {}`): the latter zero-fills the
    // whole Status (a `rep stos`) before constructing it, a third of a cached free.
    Status done;
    return done;
  }
  return free_slow(block);
}

int IovaAllocator::free_into(const Range& block, ErrorSink on_error) {
  if (impl_->cached_free(block)) [[likely]]
    return 0;
  return free_into_slow(block, on_error);
}

int IovaAllocator::free_into_slow(const Range& block, ErrorSink on_error) {
  Status s = free_slow(block);
  if (s) return 0;
  if (on_error) on_error(s.error());
  return s.error().code;
}

Status IovaAllocator::free_slow(const Range& block) {
  Impl& m = *impl_;
  if ((block.first & (m.granule - 1)) != 0 || (block.last & (m.granule - 1)) != m.granule - 1 ||
      block.first > block.last || !m.usable_holds(block)) {
    return make_error(EINVAL, "IOVA free of " + to_string(block) +
                                  ": not a granule-aligned block of usable space");
  }
  const uint64_t first = block.first >> m.shift;
  const uint64_t granules = (block.last >> m.shift) - first + 1;
  std::lock_guard<SpinLock> guard(m.tree_lock);
  if (!m.tree_give_back_locked(first, granules)) {
    return make_error(EINVAL, "IOVA free of " + to_string(block) + ": part of it is already free");
  }
  return {};
}

void IovaAllocator::release_caches() {
  impl_->release_all();
}

AllocatorStats IovaAllocator::stats() const {
  Impl& m = *impl_;
  AllocatorStats s;
  // Lock order: drain, registry, depot, tree. Thread caches are read while their owners may
  // be running: exact when no other thread is allocating or freeing.
  std::lock_guard<std::mutex> drain_guard(m.drain_lock);
  std::lock_guard<std::mutex> registry_guard(m.registry_lock);
  std::lock_guard<SpinLock> depot_guard(m.depot.lock);
  std::lock_guard<SpinLock> tree_guard(m.tree_lock);
  uint64_t cached_blocks = 0;
  u128 cached_granules = 0;
  const auto count = [&](const Magazine& mag, unsigned k) {
    cached_blocks += mag.size();
    cached_granules += u128{mag.size()} << k;
  };
  for (const auto& c : m.registry) {
    for (unsigned k = 0; k < kOrders; ++k) {
      count(*c->loaded[k], k);
      count(*c->spare[k], k);
    }
  }
  for (unsigned k = 0; k < kOrders; ++k) {
    for (uint32_t j = 0; j < m.depot.count[k]; ++j) count(*m.depot.mags[k][j], k);
  }
  s.usable_bytes = m.usable_bytes;
  s.cached_bytes = cached_granules << m.shift;
  s.free_bytes = m.usable_bytes - (u128{m.tree_granules} << m.shift) + s.cached_bytes;
  s.live_count = m.tree_blocks - cached_blocks;
  m.tree.for_each([&](const Node& node) {
    s.largest_free_block = std::max(s.largest_free_block, u128{node.last - node.first + 1});
  });
  s.largest_free_block <<= m.shift;
  s.free_extents = m.tree.count();
  s.metadata_bytes = m.tree.storage_bytes() + m.registry.size() * sizeof(ThreadCache) +
                     sizeof(Depot) + m.mag_pool.size() * sizeof(Magazine);
  return s;
}

uint64_t IovaAllocator::granule() const {
  return impl_->granule;
}

}  // namespace iovamap

// ---- the C API's two hot calls ---------------------------------------------------------------
// iovamap_allocator_alloc and iovamap_allocator_free (include/iovamap/iovamap.h) live here, not
// in src/c_api.cc, so that allocate_into's and free_into's cached paths are inlined into them:
// a C call then costs the handle check and one call, as the C++ call costs one call
// (bench/c_api_bench.cc measures both). They are C API functions in every other respect:
// src/c_api_handles.h's handle look-up, errors kept for iovamap_last_error, no exception out.

using namespace iovamap;         // NOLINT: the C functions below are outside the namespace
using namespace iovamap::c_api;  // NOLINT

static_assert(sizeof(iovamap_range) == sizeof(iovamap::Range) &&
                  offsetof(iovamap_range, first) == offsetof(iovamap::Range, first) &&
                  offsetof(iovamap_range, last) == offsetof(iovamap::Range, last),
              "iovamap_range and Range are copied into each other byte for byte");

// The library is compiled with hidden visibility; these are exported (src/libiovamap.map).
#pragma GCC visibility push(default)
extern "C" {

[[gnu::flatten]] int iovamap_allocator_alloc(iovamap_allocator* alloc, uint64_t size,
                                             uint64_t limit, uint64_t alignment,
                                             iovamap_range* out) {
  return guarded("iovamap_allocator_alloc", [&] {
    IovaAllocator* a = lookup<IovaAllocator>(alloc);
    if (!a) [[unlikely]]
      return bad_handle(Tag::kAllocator);
    if (!out) [[unlikely]]
      return null_argument("iovamap_allocator_alloc", "out");
    if (limit == 0) [[unlikely]]
      return fail_cold(EINVAL,
                       "iovamap_allocator_alloc: limit 0 (the limit is the highest address "
                       "allowed, e.g. 0xffffffff)");
    Range r;
    if (int code = a->allocate_into(size, {.limit = limit, .alignment = alignment}, r, keep_error);
        code != 0) [[unlikely]]
      return -code;
    // One 16-byte copy, as the block was built: two 8-byte stores read back by the caller
    // with one 16-byte load (a struct copy) would stall store-to-load forwarding.
    std::memcpy(out, &r, sizeof r);
    return 0;
  });
}

[[gnu::flatten]] int iovamap_allocator_free(iovamap_allocator* alloc, const iovamap_range* block) {
  return guarded("iovamap_allocator_free", [&] {
    IovaAllocator* a = lookup<IovaAllocator>(alloc);
    if (!a) [[unlikely]]
      return bad_handle(Tag::kAllocator);
    if (!block) [[unlikely]]
      return null_argument("iovamap_allocator_free", "block");
    if (block->first > block->last) [[unlikely]]
      return fail_cold(EINVAL, "iovamap_allocator_free: block has first > last");
    if (int code = a->free_into(Range{block->first, block->last}, keep_error); code != 0)
        [[unlikely]]
      return -code;
    return 0;
  });
}

}  // extern "C"
#pragma GCC visibility pop
