// The baseline for bench/iova_allocator_bench.cc: our own re-implementation of the algorithm
// Linux uses in drivers/iommu/iova.c (as of 6.12), written from a reading of that file, for
// comparison only. It is not part of the library and nothing else may use it.
//
// What it reproduces, in our words:
//   - An ordered tree of *allocated* ranges (the kernel's rbtree; here std::map, also a
//     red-black tree, one heap node per range like the kernel's kmem_cache of struct iova),
//     closed by an anchor entry at pfn ~0 that sits above every usable address.
//   - Allocation (__alloc_and_insert_iova_range): start at a cached node (one for limits at or
//     below 4 GiB, one for the rest), walk to lower nodes until the gap below the current node
//     fits the size at its alignment (the size rounded up to a power of two), taking the
//     highest aligned start in that gap. If the walk reaches the bottom, retry once from the
//     anchor down to just above where the first walk began. A failure with a limit at or below
//     4 GiB records the failing size (max32_alloc_size); later requests at least that large
//     with such a limit fail at once, until something below 4 GiB is freed.
//   - The cached nodes: after an insert, the new node becomes the cached node of its half;
//     freeing a node at or above a cached node moves that cache to the freed node's successor
//     (__cached_rbnode_delete_update).
//   - Per-CPU range caches (the "rcache"): for sizes of 1 to 32 pages (6 power-of-two classes),
//     each CPU keeps a loaded and a previous magazine of 127 pfns behind a spinlock; full
//     magazines go to a per-class depot list; the depot is trimmed back to the number of CPUs,
//     one magazine per 100 ms (the kernel's delayed work; here done inline on the next depot
//     access). alloc_iova_fast tries the cache (the magazine is scanned from the top for a pfn
//     under the limit), then the tree, and on failure flushes every cache to the tree and
//     retries once.
//   - reserve_iova: a linear walk from the first node, merging with what it overlaps.
// Not reproduced: the flush queue (deferred frees), CPU hotplug, best-fit mode.
#pragma once

#include "current_cpu.h"
#include "spin_lock.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace iovamap::bench {

class LinuxIovaDomain {
 public:
  static constexpr unsigned kCacheOrders = 6;  // classes of 1..32 pages
  static constexpr unsigned kMagSize = 127;
  static constexpr uint64_t kAnchor = ~uint64_t{0};

  // `start_pfn` is the lowest usable pfn (the kernel uses at least 1, so IOVA 0 is never
  // returned); `shift` is log2 of the granule.
  LinuxIovaDomain(unsigned shift, uint64_t start_pfn, unsigned cpus)
      : start_pfn_(start_pfn),
        dma_32bit_pfn_(uint64_t{1} << (32 - shift)),
        max32_alloc_size_(dma_32bit_pfn_),
        cpus_(std::max(1u, cpus)),
        cpu_caches_(new CpuCache[cpus_ * kCacheOrders]) {
    tree_.emplace(kAnchor, kAnchor);
    cached_node_ = cached32_node_ = tree_.find(kAnchor);
  }

  ~LinuxIovaDomain() {
    for (Rcache& rc : rcaches_) {
      for (Magazine* m : rc.depot) delete m;
    }
  }

  // Marks [pfn_lo, pfn_hi] as never to be allocated (reserve_iova). Linear in the tree size.
  void reserve(uint64_t pfn_lo, uint64_t pfn_hi) {
    std::lock_guard<SpinLock> guard(tree_lock_);
    reserve_locked(pfn_lo, pfn_hi);
  }

  // alloc_iova with size_aligned: returns the first pfn or 0.
  uint64_t alloc_iova(uint64_t size, uint64_t limit_pfn) {
    std::lock_guard<SpinLock> guard(tree_lock_);
    return alloc_locked(size, limit_pfn + 1);
  }

  // free_iova: frees the allocated range holding pfn.
  void free_iova(uint64_t pfn) {
    std::lock_guard<SpinLock> guard(tree_lock_);
    auto it = find_locked(pfn);
    if (it != tree_.end()) erase_locked(it);
  }

  // alloc_iova_fast: cache, then tree, then (flush_rcache) flush all caches and retry.
  uint64_t alloc_iova_fast(uint64_t size, uint64_t limit_pfn, bool flush_rcache) {
    const uint64_t pfn = rcache_get(size, limit_pfn + 1);
    if (pfn != 0) return pfn;
    while (true) {
      const uint64_t got = alloc_iova(size, limit_pfn);
      if (got != 0 || !flush_rcache) return got;
      flush_rcache = false;
      flush_all_caches();
    }
  }

  // free_iova_fast: into the cache when the size class is cached, else the tree.
  void free_iova_fast(uint64_t pfn, uint64_t size) {
    if (rcache_insert(pfn, size)) return;
    free_iova(pfn);
  }

  void flush_all_caches() {
    for (unsigned cpu = 0; cpu < cpus_; ++cpu) {
      for (unsigned k = 0; k < kCacheOrders; ++k) {
        CpuCache& c = cpu_caches_[cpu * kCacheOrders + k];
        std::lock_guard<SpinLock> guard(c.lock);
        free_magazine_pfns(*c.loaded);
        free_magazine_pfns(*c.prev);
      }
    }
    for (Rcache& rc : rcaches_) {
      std::vector<Magazine*> mags;
      {
        std::lock_guard<SpinLock> guard(rc.lock);
        mags.swap(rc.depot);
      }
      for (Magazine* m : mags) {
        free_magazine_pfns(*m);
        delete m;
      }
    }
  }

  // Allocated ranges in the tree (reserved ones included, the anchor excluded).
  size_t tree_nodes() const { return tree_.size() - 1; }
  // Heap bytes of the tree: one node per range (a std::map node of 48 bytes is a 64-byte malloc
  // chunk; the kernel's struct iova is 40 bytes in a cache-line-aligned slab, also 64).
  uint64_t tree_bytes() const { return uint64_t{tree_.size()} * 64; }
  // The tree plus every magazine.
  uint64_t metadata_bytes() const {
    uint64_t mags = uint64_t{cpus_} * kCacheOrders * 2;
    for (const Rcache& rc : rcaches_) mags += rc.depot.size();
    return tree_bytes() + mags * sizeof(Magazine);
  }
  // The largest gap between allocated ranges (pages), for comparison after churn.
  uint64_t largest_gap() const {
    uint64_t best = 0, next_free = start_pfn_;
    for (const auto& [lo, hi] : tree_) {
      if (lo == kAnchor) break;  // the anchor closes the space; nothing above it is usable
      if (lo > next_free) best = std::max(best, lo - next_free);
      next_free = std::max(next_free, hi + 1);
    }
    return best;
  }

 private:
  struct Magazine {
    uint64_t size = 0;
    uint64_t pfns[kMagSize];
  };

  struct alignas(64) CpuCache {
    SpinLock lock;
    Magazine* loaded = new Magazine;
    Magazine* prev = new Magazine;
    ~CpuCache() {
      delete loaded;
      delete prev;
    }
  };

  struct Rcache {
    SpinLock lock;
    std::vector<Magazine*> depot;  // full magazines, last in first out
    std::chrono::steady_clock::time_point last_trim{};
  };

  using Tree = std::map<uint64_t, uint64_t>;  // pfn_lo -> pfn_hi
  using Node = Tree::iterator;

  static unsigned order_base_2(uint64_t n) {
    return n <= 1 ? 0u : static_cast<unsigned>(64 - __builtin_clzll(n - 1));
  }

  Node cached_for(uint64_t limit_pfn) {
    return limit_pfn <= dma_32bit_pfn_ ? cached32_node_ : cached_node_;
  }

  // __alloc_and_insert_iova_range, limit_pfn exclusive.
  uint64_t alloc_locked(uint64_t size, uint64_t limit_pfn) {
    const uint64_t align_mask = ~uint64_t{0} << order_base_2(size);
    uint64_t high_pfn = limit_pfn, low_pfn = start_pfn_;
    if (limit_pfn <= dma_32bit_pfn_ && size >= max32_alloc_size_) return 0;
    Node curr = cached_for(limit_pfn);
    uint64_t low_pfn_new = curr->second + 1;
    uint64_t new_pfn;
    Node prev;
    while (true) {
      bool more;
      do {
        high_pfn = std::min(high_pfn, curr->first);
        new_pfn = (high_pfn - size) & align_mask;
        prev = curr;
        more = curr != tree_.begin();
        if (more) --curr;
      } while (more && new_pfn <= curr->second && new_pfn >= low_pfn);
      if (high_pfn < size || new_pfn < low_pfn) {
        if (low_pfn == start_pfn_ && low_pfn_new < limit_pfn) {
          high_pfn = limit_pfn;
          low_pfn = low_pfn_new;
          curr = std::prev(tree_.end());  // the anchor
          continue;
        }
        max32_alloc_size_ = size;
        return 0;
      }
      break;
    }
    Node inserted = tree_.emplace_hint(prev, new_pfn, new_pfn + size - 1);
    if (new_pfn + size - 1 < dma_32bit_pfn_) {
      cached32_node_ = inserted;
    } else {
      cached_node_ = inserted;
    }
    return new_pfn;
  }

  Node find_locked(uint64_t pfn) {
    auto it = tree_.upper_bound(pfn);
    if (it == tree_.begin()) return tree_.end();
    --it;
    return pfn <= it->second ? it : tree_.end();
  }

  // __cached_rbnode_delete_update, then the erase.
  void erase_locked(Node free) {
    if (free == cached32_node_ ||
        (free->second < dma_32bit_pfn_ && free->first >= cached32_node_->first)) {
      cached32_node_ = std::next(free);
    }
    if (free->first < dma_32bit_pfn_) max32_alloc_size_ = dma_32bit_pfn_;
    if (free->first >= cached_node_->first) cached_node_ = std::next(free);
    tree_.erase(free);
  }

  void reserve_locked(uint64_t lo, uint64_t hi) {
    // Walk every node from the first; absorb what overlaps into one range.
    bool overlap = false;
    for (Node it = tree_.begin(); it != tree_.end();) {
      if (it->first <= hi && lo <= it->second && it->first != kAnchor) {
        lo = std::min(lo, it->first);
        hi = std::max(hi, it->second);
        if (it == cached_node_ || it == cached32_node_) {
          cached_node_ = cached32_node_ = std::prev(tree_.end());
        }
        it = tree_.erase(it);
        overlap = true;
      } else if (overlap) {
        break;
      } else {
        ++it;
      }
    }
    tree_.emplace(lo, hi);
  }

  void free_magazine_pfns(Magazine& mag) {
    if (mag.size == 0) return;
    std::lock_guard<SpinLock> guard(tree_lock_);
    for (uint64_t i = 0; i < mag.size; ++i) {
      auto it = find_locked(mag.pfns[i]);
      if (it != tree_.end()) erase_locked(it);
    }
    mag.size = 0;
  }

  CpuCache& my_cache(unsigned k) {
    const unsigned cpu = current_cpu();  // the same CPU lookup as ours
    const unsigned c = cpu < cpus_ ? cpu : cpu % cpus_;
    return cpu_caches_[c * kCacheOrders + k];
  }

  // The delayed depot trim, run inline: one surplus magazine per 100 ms.
  Magazine* take_surplus_locked(Rcache& rc) {
    const auto now = std::chrono::steady_clock::now();
    if (rc.depot.size() <= cpus_ || now - rc.last_trim < std::chrono::milliseconds(100)) {
      return nullptr;
    }
    rc.last_trim = now;
    Magazine* m = rc.depot.back();
    rc.depot.pop_back();
    return m;
  }

  bool rcache_insert(uint64_t pfn, uint64_t size) {
    const unsigned k = order_base_2(size);
    if (k >= kCacheOrders) return false;
    CpuCache& c = my_cache(k);
    Magazine* surplus = nullptr;
    {
      std::lock_guard<SpinLock> guard(c.lock);
      if (c.loaded->size == kMagSize) {
        if (c.prev->size < kMagSize) {
          std::swap(c.loaded, c.prev);
        } else {
          Magazine* fresh = new Magazine;
          Rcache& rc = rcaches_[k];
          std::lock_guard<SpinLock> depot_guard(rc.lock);
          rc.depot.push_back(c.loaded);
          c.loaded = fresh;
          surplus = take_surplus_locked(rc);
        }
      }
      c.loaded->pfns[c.loaded->size++] = pfn;
    }
    if (surplus != nullptr) {
      free_magazine_pfns(*surplus);
      delete surplus;
    }
    return true;
  }

  // __iova_rcache_get with the limit as an exclusive pfn.
  uint64_t rcache_get(uint64_t size, uint64_t limit_pfn) {
    const unsigned k = order_base_2(size);
    if (k >= kCacheOrders) return 0;
    const uint64_t highest = limit_pfn - size;
    CpuCache& c = my_cache(k);
    std::lock_guard<SpinLock> guard(c.lock);
    if (c.loaded->size == 0) {
      if (c.prev->size != 0) {
        std::swap(c.loaded, c.prev);
      } else {
        Rcache& rc = rcaches_[k];
        std::lock_guard<SpinLock> depot_guard(rc.lock);
        if (rc.depot.empty()) return 0;
        delete c.loaded;
        c.loaded = rc.depot.back();
        rc.depot.pop_back();
      }
    }
    Magazine& mag = *c.loaded;
    for (uint64_t i = mag.size; i-- > 0;) {
      if (mag.pfns[i] <= highest) {
        const uint64_t pfn = mag.pfns[i];
        mag.pfns[i] = mag.pfns[--mag.size];
        return pfn;
      }
    }
    return 0;
  }

  uint64_t start_pfn_;
  uint64_t dma_32bit_pfn_;
  uint64_t max32_alloc_size_;
  unsigned cpus_;
  SpinLock tree_lock_;  // the kernel's iova_rbtree_lock is a spinlock
  Tree tree_;
  Node cached_node_;
  Node cached32_node_;
  std::unique_ptr<CpuCache[]> cpu_caches_;
  Rcache rcaches_[kCacheOrders];
};

}  // namespace iovamap::bench
