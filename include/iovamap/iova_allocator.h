// A fast, thread-safe IOVA allocator over the usable space of a container or device.
//
// Userspace drivers and VMMs that choose their own I/O virtual addresses need addresses the
// container can really map (the `effective` ranges), below each device's DMA limit. This
// allocator hands out granule-aligned blocks from a `RangeSet` of usable ranges, never crossing
// a hole, never returning IOVA 0, never exceeding the per-call limit and never overlapping a
// live block. It fails (ENOMEM) only when no fit exists once every cached block was returned.
//
// Example:
//   auto alloc = IovaAllocator::create(usable, 4096);          // Result<unique_ptr<...>>
//   if (!alloc) return alloc.error();
//   Result<Range> r = (*alloc)->allocate(8192, {.limit = 0xffffffff});
//   ...map r->first .. r->last...
//   (*alloc)->free(*r);                                          // pass back what you got
//   (*alloc)->allocate_at(0x100000, 0x10000);                   // a fixed placement
//
// Semantics (the kernel's DMA path as the reference: drivers/iommu/dma-iommu.c
// iommu_dma_alloc_iova and drivers/iommu/iova.c alloc_iova_fast): sizes are rounded up to
// whole granules; sizes below 32 granules are further rounded up to a power of two (the kernel
// does this so that freed blocks fit its size-class caches: in alloc_iova_fast in recent kernels,
// in iommu_dma_alloc_iova in older ones; we do it for the same reason) and the returned Range shows
// the rounded size. Blocks of 1, 2, 4, 8, 16 or 32 granules at natural alignment form the cached
// size classes. The default alignment is the (rounded) size rounded up to a power of two, in
// granules. Placement is top-down: the highest fitting block below the limit is preferred, like the
// kernel's. `kPci32BitFirst` reproduces the kernel's PCI policy: try below 4 GiB first (without
// returning cached blocks), then up to the full limit.
//
// Complexity (n = free extents in the tree, at most live blocks + usable ranges + 1):
//   - allocate of a cached size class (up to 32 granules at natural alignment): O(1) from the
//     calling thread's magazines, with no lock and no atomic read-modify-write; otherwise
//     O(log n) expected: a treap of free extents, each subtree knowing the largest naturally
//     aligned power-of-two block it holds. That search is exact for power-of-two sizes at
//     natural alignment. Other requests take the highest extent that surely fits (O(log n));
//     only when none does, every extent that might fit is examined (O(n)) before ENOMEM.
//   - free: O(1) into the caches, else O(log n) expected.
//   - allocate_at: O(log n) expected (plus returning the caches when the range is cached).
//   - stats(): O(n + threads) (it walks the tree for the largest free block).
// Thread-safety: every method may be called concurrently from any thread. The tree is behind
//   one spinlock. Each thread has its own caches per allocator; a thread that needs them back
//   (before failing) freezes them and waits, using membarrier(2) so that the owner's fast path
//   needs no atomic read-modify-write (a locked exchange where membarrier is unavailable).
//   Full magazines move between threads through a shared depot (a producer thread's frees feed
//   a consumer thread's allocations), by pointer: a full magazine is traded for an empty one.
//   stats() is exact when no other thread is operating.
// Memory: no per-allocation record is kept: the caller hands the Range back to `free`. The
//   tree holds one 32-byte node per free extent (at most one per live block, plus one per
//   usable range), so metadata is at most 32 bytes per live allocation plus a constant: node
//   storage grows in chunks of 4096 nodes and keeps its high-water mark; each thread that used
//   the allocator has 6 size classes x 2 magazines x 128 entries (13 KiB, each magazine on its
//   own cache lines), returned to the tree when the thread exits (the magazines are kept for
//   the next thread); the depot holds at most 32 full magazines per size class (204 KiB).
// Exhaustion: caches are bounded and never hold address space hostage: before any allocation
//   (or allocate_at) fails, every thread's cache and the depot are returned to the tree and the
//   request is retried once. Only then ENOMEM (or EBUSY for allocate_at) is returned.
//   Concurrent frees racing with that retry may of course change the answer.
//
// Sharp edges:
//   - `free` must get exactly the Range that `allocate`/`allocate_at` returned. Freeing a range
//     that overlaps free space in the tree is detected (EINVAL); a double free of a block that
//     is still sitting in a cache is not detected and corrupts the allocator, as in the kernel.
//   - The limit is an address, inclusive (a DMA mask such as 0xffffffff), not a size.
//   - A block is never split: freeing part of an allocation is not supported.
//   - Creating an allocator with caches registers the process for expedited private
//     membarrier(2) (MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED), once per process.
//   - Blocks cached by a thread stay there while the thread lives and nobody runs short; an
//     idle thread does not give them back until some allocation would otherwise fail.
#pragma once

#include <cstdint>
#include <memory>

#include "iovamap/range.h"
#include "iovamap/range_set.h"
#include "iovamap/result.h"

namespace iovamap {

// How `allocate` chooses among the usable addresses below the limit.
enum class DmaPolicy {
  // The highest fitting block below the limit.
  kTopDown,
  // The kernel's policy for PCI devices (dma-iommu.c, iommu_dma_alloc_iova): when the limit is
  // above 4 GiB, first try below 4 GiB without returning cached blocks, then the full limit.
  // The kernel additionally stops trying below 4 GiB for a device after the first fall-back
  // (dev->iommu->pci_32bit_workaround is cleared); callers wanting that can switch to kTopDown
  // once they receive an address above 0xffffffff.
  kPci32BitFirst,
};

struct AllocOptions {
  // Highest address any byte of the block may have (inclusive), e.g. a DMA mask.
  uint64_t limit = kMaxAddress;
  // Alignment in bytes, a power of two; 0 means the (rounded) size rounded up to a power of
  // two. Values below the granule are raised to the granule.
  uint64_t alignment = 0;
  DmaPolicy policy = DmaPolicy::kTopDown;
  // False bypasses the per-thread caches for this call (both taking from and, in `free`, putting
  // into them is controlled per call).
  bool use_cache = true;
};

struct AllocatorOptions {
  // Enables the per-thread size-class caches (naturally aligned blocks of 1 to 32 granules).
  bool caches = true;
};

struct AllocatorStats {
  u128 usable_bytes = 0;        // every granule that can ever be handed out
  u128 free_bytes = 0;          // usable_bytes minus the bytes of live blocks (cached = free)
  u128 cached_bytes = 0;        // free bytes sitting in caches (part of free_bytes)
  uint64_t live_count = 0;      // blocks allocated and not yet freed
  u128 largest_free_block = 0;  // longest contiguous free run in the tree (caches excluded)
  uint64_t free_extents = 0;    // nodes in the tree
  uint64_t metadata_bytes = 0;  // tree node storage (high-water, chunked) + cache arrays
};

class IovaAllocator {
 public:
  // Builds an allocator over `usable`, with `granule` (the smallest IOMMU page size, a power
  // of two) as the unit of every block. Ranges are shrunk inward to whole granules and the
  // granule holding IOVA 0 is never used. EINVAL when the granule is not a power of two or no
  // whole granule is usable.
  static Result<std::unique_ptr<IovaAllocator>> create(const RangeSet& usable, uint64_t granule,
                                                       const AllocatorOptions& options = {});

  ~IovaAllocator();
  IovaAllocator(const IovaAllocator&) = delete;
  IovaAllocator& operator=(const IovaAllocator&) = delete;

  // Allocates `size` bytes (rounded as described above). Returns the block, granule-aligned,
  // aligned to the requested alignment, inside one usable range, ending at or below the
  // limit, disjoint from every live block. EINVAL for size 0 or a bad alignment; ENOMEM when
  // no fit exists after the caches were returned.
  Result<Range> allocate(uint64_t size, const AllocOptions& options = {});

  // Called with the error of a failed allocate_into or free_into, before it returns.
  using ErrorSink = void (*)(const Error& error);

  // The same allocation as `allocate`, reported without a Result, for callers whose every
  // nanosecond counts (the C API calls this): returns 0 and sets `out`, or returns the errno
  // that `allocate` would have returned after passing its error to `on_error` (when not null).
  // A cache hit constructs nothing: no Result, no Error.
  //   Range r;
  //   if (alloc.allocate_into(4096, {.limit = 0xffffffffff}, r) != 0) { /* ENOMEM, EINVAL */ }
  int allocate_into(uint64_t size, const AllocOptions& options, Range& out,
                    ErrorSink on_error = nullptr);

  // Allocates exactly [iova, iova + size - 1] (size rounded up to whole granules; no power of
  // two rounding). EINVAL when iova is not granule-aligned, size is 0, the range wraps, or it
  // is not inside one usable range (a hole, IOVA 0); EBUSY when part of it is live.
  Result<Range> allocate_at(uint64_t iova, uint64_t size);

  // Returns a block obtained from allocate/allocate_at. Blocks of a cached size class go to the
  // calling thread's cache when `use_cache`; others go back to the tree and merge with their
  // neighbours. EINVAL when the range is not granule-aligned, not usable, or overlaps free
  // space in the tree (a double free detected).
  Status free(const Range& block, bool use_cache = true);

  // `free` reported without a Status (see allocate_into): 0, or the errno `free` would have
  // returned, after passing its error to `on_error` (when not null).
  int free_into(const Range& block, ErrorSink on_error = nullptr);

  // Returns every cached block to the tree (what happens automatically before a failure).
  void release_caches();

  // A consistent snapshot of the counters (taken under all locks).
  AllocatorStats stats() const;

  uint64_t granule() const;

 private:
  friend struct ThreadCaches;
  struct Impl;
  explicit IovaAllocator(std::shared_ptr<Impl> impl);
  // The paths past the per-thread caches (kept out of line so the cached paths stay short).
  [[gnu::noinline]] Result<Range> allocate_slow(uint64_t size, const AllocOptions& options,
                                                bool tried_cache);
  [[gnu::noinline]] Status free_slow(const Range& block);
  // allocate_into and free_into past the caches: the slow paths' Result turned into an errno.
  [[gnu::noinline]] int allocate_into_slow(uint64_t size, const AllocOptions& options,
                                           bool tried_cache, Range& out, ErrorSink on_error);
  [[gnu::noinline]] int free_into_slow(const Range& block, ErrorSink on_error);
  std::shared_ptr<Impl> impl_;  // shared with the threads' cache lists, which may outlive it
};

}  // namespace iovamap
