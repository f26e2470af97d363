// IovaAllocator: a treap of free extents plus per-CPU magazine caches (see the header).
//
// All tree coordinates are granule numbers ("pfns"): extent [first, last] covers the bytes
// [first << shift, ((last + 1) << shift) - 1]. pfn 0 is never in the tree, so lengths never
// overflow and IOVA 0 is never handed out.
#include "iovamap/iova_allocator.h"

#include "current_cpu.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace iovamap {
namespace {

constexpr unsigned kOrders = 6;       // cached classes: 1, 2, 4, 8, 16, 32 granules
constexpr uint64_t kRoundBelow = 32;  // sizes below this many granules round to a power of 2
constexpr unsigned kMagSize = 64;     // pfns per magazine
constexpr unsigned kDepotMags = 8;    // full magazines kept globally per class
constexpr unsigned kMaxShards = 64;
constexpr uint32_t kNil = 0xffffffffu;
constexpr unsigned kChunkShift = 12;  // nodes are allocated 4096 at a time
constexpr uint32_t kChunkNodes = 1u << kChunkShift;

// std::has_single_bit without -mpopcnt is a library call; this is two instructions.
constexpr bool is_pow2(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}
int floor_log2(uint64_t v) {
  return 63 - std::countl_zero(v);
}
int ceil_log2(uint64_t v) {
  return v <= 1 ? 0 : 64 - std::countl_zero(v - 1);
}

// The largest k such that a block of 2^k granules aligned to 2^k lies inside [first, last].
// Precondition: 1 <= first <= last. An interval of length L >= 2^k holds an aligned block of
// 2^(k-1), so the answer is floor(log2 L) or one less.
uint8_t aligned_order(uint64_t first, uint64_t last) {
  const uint64_t length = last - first + 1;  // no overflow: first >= 1
  const int k = floor_log2(length);
  const uint64_t block = uint64_t{1} << k;
  const uint64_t rem = first & (block - 1);
  if (rem == 0) return static_cast<uint8_t>(k);
  const uint64_t start = first + (block - rem);
  if (start < first) return static_cast<uint8_t>(k - 1);  // wrapped past 2^64
  return static_cast<uint8_t>(start - 1 + block <= last ? k : k - 1);
}

// A treap priority derived from the node index (splitmix64 finaliser), so nodes carry none.
uint32_t priority(uint32_t index) {
  uint64_t z = index + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return static_cast<uint32_t>(z ^ (z >> 31));
}

// One free extent. `order` is its own aligned_order, `sub` the maximum over its subtree.
struct Node {
  uint64_t first;
  uint64_t last;
  uint32_t left;
  uint32_t right;
  uint8_t order;
  uint8_t sub;
};
static_assert(sizeof(Node) == 32, "metadata bound in the header relies on 32-byte nodes");

// What a search is looking for: `size` granules at an `align`-granule boundary, ending at or
// below `limit` (a pfn).
struct Request {
  uint64_t size;
  uint64_t align;
  uint64_t limit;
};

struct Fit {
  uint32_t node = kNil;
  uint64_t start = 0;
};

// The free extents, ordered by address, in a treap augmented with `sub`. Not thread-safe.
class ExtentTree {
 public:
  // Adds [first, last] as a new extent. Precondition: disjoint from every extent, not touching.
  void add(uint64_t first, uint64_t last) { root_ = insert(root_, new_node(first, last)); }

  // Searches top-down for the highest fit of `q` among extents whose aligned order is at least
  // `need` (subtrees whose `sub` is below `need` are skipped). False when there is none.
  bool find(const Request& q, int need, Fit& out) const {
    return find_in(root_, false, q, need, out);
  }

  // Removes [start, start + size - 1] from extent `n`, which must contain it.
  void carve(uint32_t n, uint64_t start, uint64_t size) {
    Node& node = at(n);
    const uint64_t first = node.first;
    const uint64_t last = node.last;
    const uint64_t end = start + size - 1;
    const bool low = start > first;
    const bool high = end < last;
    if (!low && !high) {
      root_ = erase(root_, first);
    } else if (low && !high) {
      reshape(n, first, start - 1);
    } else if (!low && high) {
      reshape(n, end + 1, last);
    } else {
      reshape(n, first, start - 1);
      add(end + 1, last);
    }
  }

  // The extent containing pfn, or kNil; also the nearest extents around it.
  void neighbours(uint64_t pfn, uint32_t& pred, uint32_t& succ) const {
    pred = kNil;
    succ = kNil;
    uint32_t t = root_;
    while (t != kNil) {
      const Node& node = at(t);
      if (node.first <= pfn) {
        pred = t;
        t = node.right;
      } else {
        succ = t;
        t = node.left;
      }
    }
  }

  // Returns [first, last] to the free space, merging with touching extents. False when it
  // overlaps an extent (a double free).
  bool give_back(uint64_t first, uint64_t last) {
    uint32_t pred, succ;
    neighbours(first, pred, succ);
    if (pred != kNil && at(pred).last >= first) return false;
    if (succ != kNil && at(succ).first <= last) return false;
    const bool merge_low = pred != kNil && at(pred).last + 1 == first;
    const bool merge_high = succ != kNil && last + 1 == at(succ).first;
    if (merge_low && merge_high) {
      const uint64_t succ_first = at(succ).first;
      const uint64_t succ_last = at(succ).last;
      root_ = erase(root_, succ_first);
      reshape(pred, at(pred).first, succ_last);
    } else if (merge_low) {
      reshape(pred, at(pred).first, last);
    } else if (merge_high) {
      reshape(succ, first, at(succ).last);
    } else {
      add(first, last);
    }
    return true;
  }

  const Node& at(uint32_t i) const { return chunks_[i >> kChunkShift][i & (kChunkNodes - 1)]; }
  Node& at(uint32_t i) { return chunks_[i >> kChunkShift][i & (kChunkNodes - 1)]; }

  // Calls f(node) for every extent in address order.
  template <class F>
  void for_each(F&& f) const {
    walk(root_, f);
  }

  uint64_t count() const { return count_; }
  uint64_t storage_bytes() const { return uint64_t{chunks_.size()} * kChunkNodes * sizeof(Node); }

 private:
  template <class F>
  void walk(uint32_t t, F& f) const {
    while (t != kNil) {
      walk(at(t).left, f);
      f(at(t));
      t = at(t).right;
    }
  }

  int sub(uint32_t t) const { return t == kNil ? -1 : at(t).sub; }

  // Recomputes t's `sub` from its own order and its children's; true when it changed.
  bool pull(uint32_t t) {
    Node& node = at(t);
    const auto sub_now = static_cast<uint8_t>(
        std::max({static_cast<int>(node.order), sub(node.left), sub(node.right)}));
    const bool changed = sub_now != node.sub;
    node.sub = sub_now;
    return changed;
  }

  // Gives extent n new bounds that keep its place in the order (no other extent between the
  // old and the new key), then repairs `sub` upwards from it, stopping where nothing changes.
  void reshape(uint32_t n, uint64_t first, uint64_t last) {
    const uint64_t key = first;
    path_.clear();
    for (uint32_t t = root_; t != n;) {
      path_.push_back(t);
      t = key < at(t).first ? at(t).left : at(t).right;
    }
    Node& node = at(n);
    node.first = first;
    node.last = last;
    node.order = aligned_order(first, last);
    if (!pull(n)) return;
    for (size_t i = path_.size(); i-- > 0;) {
      if (!pull(path_[i])) return;
    }
  }

  uint32_t new_node(uint64_t first, uint64_t last) {
    uint32_t i;
    if (free_list_ != kNil) {
      i = free_list_;
      free_list_ = at(i).left;
    } else {
      if (next_ == uint64_t{chunks_.size()} * kChunkNodes) {
        chunks_.push_back(std::make_unique<Node[]>(kChunkNodes));
      }
      i = next_++;
    }
    Node& node = at(i);
    node = Node{first, last, kNil, kNil, aligned_order(first, last), 0};
    node.sub = node.order;
    ++count_;
    return i;
  }

  void release(uint32_t i) {
    at(i).left = free_list_;
    free_list_ = i;
    --count_;
  }

  // Splits t into keys < key (l) and keys > key (r).
  void split(uint32_t t, uint64_t key, uint32_t& l, uint32_t& r) {
    if (t == kNil) {
      l = r = kNil;
    } else if (at(t).first < key) {
      split(at(t).right, key, at(t).right, r);
      l = t;
      pull(t);
    } else {
      split(at(t).left, key, l, at(t).left);
      r = t;
      pull(t);
    }
  }

  uint32_t insert(uint32_t t, uint32_t n) {
    if (t == kNil) return n;
    if (priority(n) > priority(t)) {
      split(t, at(n).first, at(n).left, at(n).right);
      pull(n);
      return n;
    }
    if (at(n).first < at(t).first) {
      at(t).left = insert(at(t).left, n);
    } else {
      at(t).right = insert(at(t).right, n);
    }
    pull(t);
    return t;
  }

  // Joins a and b, every key of a being below every key of b.
  uint32_t merge(uint32_t a, uint32_t b) {
    if (a == kNil) return b;
    if (b == kNil) return a;
    if (priority(a) > priority(b)) {
      at(a).right = merge(at(a).right, b);
      pull(a);
      return a;
    }
    at(b).left = merge(a, at(b).left);
    pull(b);
    return b;
  }

  uint32_t erase(uint32_t t, uint64_t key) {
    Node& node = at(t);
    if (key == node.first) {
      const uint32_t joined = merge(node.left, node.right);
      release(t);
      return joined;
    }
    if (key < node.first) {
      node.left = erase(node.left, key);
    } else {
      node.right = erase(node.right, key);
    }
    pull(t);
    return t;
  }

  // `below`: every extent of t ends at or below q.limit.
  bool find_in(uint32_t t, bool below, const Request& q, int need, Fit& out) const {
    while (t != kNil) {
      const Node& node = at(t);
      if (node.sub < need) return false;
      if (!below && node.first > q.limit) {
        t = node.left;
        continue;
      }
      // node.first <= limit, so the left subtree lies entirely below the limit.
      if (find_in(node.right, below, q, need, out)) return true;
      if (node.order >= need) {
        const uint64_t high = std::min(node.last, q.limit);
        if (high - node.first + 1 >= q.size) {  // high >= node.first here
          const uint64_t start = (high - q.size + 1) & ~(q.align - 1);
          if (start >= node.first) {
            out = Fit{t, start};
            return true;
          }
        }
      }
      t = node.left;
      below = true;
    }
    return false;
  }

  std::vector<std::unique_ptr<Node[]>> chunks_;
  uint32_t root_ = kNil;
  uint32_t free_list_ = kNil;
  uint32_t next_ = 0;
  uint64_t count_ = 0;
  std::vector<uint32_t> path_;  // scratch for reshape
};

// A test-and-test-and-set lock: the cache critical sections are a few instructions long.
class SpinLock {
 public:
  void lock() {
    while (flag_.exchange(true, std::memory_order_acquire)) {
      while (flag_.load(std::memory_order_relaxed)) std::this_thread::yield();
    }
  }
  void unlock() { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

struct Magazine {
  uint32_t count = 0;
  uint64_t pfns[kMagSize];
};

// One CPU's caches: a loaded and a spare magazine per size class (the magazine scheme of
// Bonwick and Adams, which the kernel's drivers/iommu/iova.c rcache also follows).
struct alignas(64) Shard {
  SpinLock lock;
  Magazine* loaded[kOrders];
  Magazine* spare[kOrders];
  Magazine storage[2 * kOrders];
  Shard() {
    for (unsigned k = 0; k < kOrders; ++k) {
      loaded[k] = &storage[2 * k];
      spare[k] = &storage[2 * k + 1];
    }
  }
};

struct Depot {
  std::mutex lock;
  uint32_t count[kOrders] = {};
  Magazine mags[kOrders][kDepotMags];
};

void copy_magazine(Magazine& to, const Magazine& from) {
  to.count = from.count;
  std::memcpy(to.pfns, from.pfns, from.count * sizeof(uint64_t));
}

}  // namespace

struct IovaAllocator::Impl {
  unsigned shift = 0;
  uint64_t granule = 0;
  RangeSet usable;                 // trimmed to whole granules, granule 0 removed
  std::vector<Range> usable_list;  // the same ranges, for the inline check below
  u128 usable_bytes = 0;
  bool caches = true;

  mutable std::mutex tree_lock;
  ExtentTree tree;
  uint64_t tree_blocks = 0;    // blocks carved from the tree (live or cached)
  uint64_t tree_granules = 0;  // their granules

  unsigned shard_count = 1;
  std::unique_ptr<Shard[]> shards;
  mutable Depot depot;

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

  [[gnu::always_inline]] Shard& my_shard() {
    const unsigned cpu = current_cpu();
    return shards[cpu < shard_count ? cpu : cpu % shard_count];
  }

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
    tree.carve(fit.node, fit.start, size);
    ++tree_blocks;
    tree_granules += size;
    start = fit.start;
    return true;
  }

  bool tree_allocate(uint64_t size, uint64_t align, uint64_t limit, uint64_t& start) {
    std::lock_guard<std::mutex> guard(tree_lock);
    return tree_allocate_locked(size, align, limit, start);
  }

  bool tree_give_back_locked(uint64_t first, uint64_t size) {
    if (!tree.give_back(first, first + size - 1)) return false;
    --tree_blocks;
    tree_granules -= size;
    return true;
  }

  // Takes a cached block of class k ending at or below limit, if any.
  [[gnu::always_inline]] bool cache_pop(unsigned k, uint64_t limit, uint64_t& start) {
    const uint64_t size = uint64_t{1} << k;
    if (limit < size) return false;
    const uint64_t highest = limit - size + 1;
    Shard& shard = my_shard();
    std::lock_guard<SpinLock> guard(shard.lock);
    Magazine* mag = shard.loaded[k];
    if (mag->count == 0 && !refill(shard, k)) return false;
    mag = shard.loaded[k];
    for (uint32_t i = mag->count; i-- > 0;) {
      if (mag->pfns[i] <= highest) {
        start = mag->pfns[i];
        mag->pfns[i] = mag->pfns[--mag->count];
        return true;
      }
    }
    return false;
  }

  // With shard locked and its loaded magazine of class k empty: makes it non-empty from the
  // spare or the depot. False when both are empty too.
  [[gnu::noinline]] bool refill(Shard& shard, unsigned k) {
    if (shard.spare[k]->count != 0) {
      std::swap(shard.loaded[k], shard.spare[k]);
      return true;
    }
    std::lock_guard<std::mutex> depot_guard(depot.lock);
    if (depot.count[k] == 0) return false;
    copy_magazine(*shard.loaded[k], depot.mags[k][--depot.count[k]]);
    return true;
  }

  // With shard locked and its loaded magazine of class k full: makes room, by swapping with
  // the spare, moving the magazine to the depot or, when that is full, returning its blocks
  // to the tree.
  [[gnu::noinline]] void make_room(Shard& shard, unsigned k) {
    if (shard.spare[k]->count < kMagSize) {
      std::swap(shard.loaded[k], shard.spare[k]);
      return;
    }
    Magazine* mag = shard.loaded[k];
    {
      std::lock_guard<std::mutex> depot_guard(depot.lock);
      if (depot.count[k] < kDepotMags) {
        copy_magazine(depot.mags[k][depot.count[k]++], *mag);
        mag->count = 0;
        return;
      }
    }
    std::lock_guard<std::mutex> tree_guard(tree_lock);
    for (uint32_t i = 0; i < mag->count; ++i) {
      tree_give_back_locked(mag->pfns[i], uint64_t{1} << k);
    }
    mag->count = 0;
  }

  // Puts a block of class k in the calling CPU's cache.
  [[gnu::always_inline]] void cache_push(unsigned k, uint64_t start) {
    Shard& shard = my_shard();
    std::lock_guard<SpinLock> guard(shard.lock);
    if (shard.loaded[k]->count == kMagSize) make_room(shard, k);
    Magazine* mag = shard.loaded[k];
    mag->pfns[mag->count++] = start;
  }

  // Returns every cached block to the tree. Lock order: shard, then depot, then tree.
  void release_all() {
    for (unsigned s = 0; s < shard_count; ++s) {
      Shard& shard = shards[s];
      std::lock_guard<SpinLock> guard(shard.lock);
      bool any = false;
      for (unsigned k = 0; k < kOrders; ++k) {
        any |= shard.loaded[k]->count != 0 || shard.spare[k]->count != 0;
      }
      if (!any) continue;
      std::lock_guard<std::mutex> tree_guard(tree_lock);
      for (unsigned k = 0; k < kOrders; ++k) {
        for (Magazine* mag : {shard.loaded[k], shard.spare[k]}) {
          for (uint32_t i = 0; i < mag->count; ++i) {
            tree_give_back_locked(mag->pfns[i], uint64_t{1} << k);
          }
          mag->count = 0;
        }
      }
    }
    std::lock_guard<std::mutex> depot_guard(depot.lock);
    bool any = false;
    for (unsigned k = 0; k < kOrders; ++k) any |= depot.count[k] != 0;
    if (!any) return;
    std::lock_guard<std::mutex> tree_guard(tree_lock);
    for (unsigned k = 0; k < kOrders; ++k) {
      for (uint32_t m = 0; m < depot.count[k]; ++m) {
        const Magazine& mag = depot.mags[k][m];
        for (uint32_t i = 0; i < mag.count; ++i) {
          tree_give_back_locked(mag.pfns[i], uint64_t{1} << k);
        }
      }
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
    return Range{start << shift, ((start + size) << shift) - 1};
  }
};

IovaAllocator::IovaAllocator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
IovaAllocator::~IovaAllocator() = default;

Result<std::unique_ptr<IovaAllocator>> IovaAllocator::create(const RangeSet& usable,
                                                             uint64_t granule,
                                                             const AllocatorOptions& options) {
  if (granule == 0 || !is_pow2(granule)) {
    return make_error(EINVAL, "IOVA allocator: granule " + hex(granule) + " is not a power of two");
  }
  auto impl = std::make_unique<Impl>();
  impl->granule = granule;
  impl->shift = static_cast<unsigned>(std::countr_zero(granule));
  impl->caches = options.caches;
  for (const Range& r : usable) {
    // Shrink inward to whole granules; skip the granule of IOVA 0.
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
  unsigned shards = options.shards;
  if (shards == 0) shards = std::thread::hardware_concurrency();
  impl->shard_count = std::clamp(shards, 1u, kMaxShards);
  impl->shards = std::make_unique<Shard[]>(impl->shard_count);
  return std::unique_ptr<IovaAllocator>(new IovaAllocator(std::move(impl)));
}

Result<Range> IovaAllocator::allocate(uint64_t size, const AllocOptions& options) {
  Impl& m = *impl_;
  // The hot path: a cached size class at natural alignment, found in this CPU's magazine.
  if (m.caches && options.use_cache && options.alignment == 0 &&
      size - 1 < (kRoundBelow << m.shift) &&
      (options.policy == DmaPolicy::kTopDown || options.limit <= 0xffffffffull)) {
    const unsigned k = static_cast<unsigned>(ceil_log2(((size - 1) >> m.shift) + 1));
    uint64_t limit, start;
    if (m.limit_pfn(options.limit, limit)) {
      if (m.cache_pop(k, limit, start)) return m.to_range(start, uint64_t{1} << k);
      return allocate_slow(size, options, true);
    }
  }
  return allocate_slow(size, options, false);
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
      std::lock_guard<std::mutex> guard(m.tree_lock);
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
  Impl& m = *impl_;
  // The hot path: a naturally aligned block of a cached class into this CPU's cache.
  const uint64_t low_bits = m.granule - 1;
  if (m.caches && use_cache && ((block.first | ~block.last) & low_bits) == 0 &&
      block.first <= block.last) {
    const uint64_t first = block.first >> m.shift;
    const uint64_t granules = ((block.last - block.first) >> m.shift) + 1;
    if (granules <= kRoundBelow && is_pow2(granules) && (first & (granules - 1)) == 0 &&
        m.usable_holds(block)) {
      m.cache_push(static_cast<unsigned>(std::countr_zero(granules)), first);
      return {};
    }
  }
  return free_slow(block);
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
  std::lock_guard<std::mutex> guard(m.tree_lock);
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
  std::vector<std::unique_lock<SpinLock>> held;
  held.reserve(m.shard_count);
  uint64_t cached_blocks = 0;
  u128 cached_granules = 0;
  for (unsigned i = 0; i < m.shard_count; ++i) {
    held.emplace_back(m.shards[i].lock);
    for (unsigned k = 0; k < kOrders; ++k) {
      const uint64_t n = m.shards[i].loaded[k]->count + m.shards[i].spare[k]->count;
      cached_blocks += n;
      cached_granules += u128{n} << k;
    }
  }
  std::lock_guard<std::mutex> depot_guard(m.depot.lock);
  for (unsigned k = 0; k < kOrders; ++k) {
    for (uint32_t j = 0; j < m.depot.count[k]; ++j) {
      cached_blocks += m.depot.mags[k][j].count;
      cached_granules += u128{m.depot.mags[k][j].count} << k;
    }
  }
  std::lock_guard<std::mutex> tree_guard(m.tree_lock);
  s.usable_bytes = m.usable_bytes;
  s.cached_bytes = cached_granules << m.shift;
  s.free_bytes = m.usable_bytes - (u128{m.tree_granules} << m.shift) + s.cached_bytes;
  s.live_count = m.tree_blocks - cached_blocks;
  m.tree.for_each([&](const Node& node) {
    s.largest_free_block = std::max(s.largest_free_block, u128{node.last - node.first + 1});
  });
  s.largest_free_block <<= m.shift;
  s.free_extents = m.tree.count();
  s.metadata_bytes = m.tree.storage_bytes() + m.shard_count * sizeof(Shard) + sizeof(Depot);
  return s;
}

uint64_t IovaAllocator::granule() const {
  return impl_->granule;
}

}  // namespace iovamap
