// IovaAllocator against our re-implementation of the kernel's drivers/iommu/iova.c
// (bench/linux_iova.h), every workload of issue 4 on both, in one run, with the ratios.
//
// Usage: iova_allocator_bench [--quick] [--only NAME]
// Prints one markdown table (throughput, median, p99, p99.9 and worst operation, metadata per
// live allocation, largest free block after churn) and the bars with their ratios. --quick
// divides every operation count by 10 (for a smoke run). A run takes about a minute.
//
// Timing: throughput is measured on an untimed pass; latencies on a second pass that reads the
// TSC around every operation (calibrated against steady_clock), so the two numbers never
// include each other's overhead.
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "iovamap/iova_allocator.h"
#include "linux_iova.h"

namespace iovamap {
namespace {

constexpr uint64_t kGranule = 4096;
constexpr unsigned kShift = 12;
constexpr uint64_t kMask32 = 0xffffffffull;
constexpr uint64_t kMask48 = (uint64_t{1} << 48) - 1;
uint64_t g_scale = 1;  // --quick: 10
int g_subjects = 3;    // bit 0: ours, bit 1: linux (--subject)

uint64_t scaled(uint64_t n) {
  return std::max<uint64_t>(1, n / g_scale);
}

// splitmix64: a few instructions per number, so the workloads' own overhead stays small next
// to the allocators (std::mt19937_64 cost as much as a cached allocation).
struct Rng {
  using result_type = uint64_t;
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed) {}
  static constexpr uint64_t min() { return 0; }
  static constexpr uint64_t max() { return ~uint64_t{0}; }
  uint64_t operator()() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

double g_ns_per_tick = 0;

double process_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

void calibrate_tsc() {
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t c0 = __rdtsc();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const uint64_t c1 = __rdtsc();
  const auto t1 = std::chrono::steady_clock::now();
  g_ns_per_tick = std::chrono::duration<double, std::nano>(t1 - t0).count() / double(c1 - c0);
}

// ---------------------------------------------------------------------------------------------
// The two allocators behind one interface. A block is kept by the caller as a Range.

class Subject {
 public:
  virtual ~Subject() = default;
  virtual bool alloc(uint64_t bytes, uint64_t limit, Range& out) = 0;
  virtual void free(const Range& block) = 0;
  virtual bool place(uint64_t iova, uint64_t bytes, Range& out) = 0;
  // Bookkeeping that grows with the allocations (ours: tree nodes in use; the baseline: one
  // tree node per range), and all of it (plus node storage slack, caches, depot).
  virtual uint64_t per_allocation_bytes() = 0;
  virtual uint64_t metadata_bytes() = 0;
  virtual u128 largest_free() = 0;  // after returning caches
};

uint64_t pages_for(uint64_t bytes) {
  const uint64_t n = (bytes + kGranule - 1) >> kShift;
  return n < 32 ? std::bit_ceil(n) : n;  // what both the kernel and we do
}

class Ours : public Subject {
 public:
  Ours(const RangeSet& usable, bool caches) : caches_(caches) {
    AllocatorOptions o;
    o.caches = caches;
    a_ = std::move(*IovaAllocator::create(usable, kGranule, o));
  }
  bool alloc(uint64_t bytes, uint64_t limit, Range& out) override {
    Result<Range> r = a_->allocate(bytes, {.limit = limit, .use_cache = caches_});
    if (!r) return false;
    out = *r;
    return true;
  }
  void free(const Range& block) override { (void)a_->free(block, caches_); }
  bool place(uint64_t iova, uint64_t bytes, Range& out) override {
    Result<Range> r = a_->allocate_at(iova, bytes);
    if (!r) return false;
    out = *r;
    return true;
  }
  uint64_t per_allocation_bytes() override { return a_->stats().free_extents * 32; }
  uint64_t metadata_bytes() override { return a_->stats().metadata_bytes; }
  u128 largest_free() override {
    a_->release_caches();
    return a_->stats().largest_free_block;
  }
  IovaAllocator& allocator() { return *a_; }

 private:
  std::unique_ptr<IovaAllocator> a_;
  bool caches_;
};

class Baseline : public Subject {
 public:
  Baseline(const RangeSet& usable, bool caches)
      : d_(kShift, std::max<uint64_t>(1, usable.ranges().front().first >> kShift),
           std::thread::hardware_concurrency()),
        caches_(caches) {
    // The kernel reserves every hole of the usable space (iova_reserve_iommu_regions) and
    // caps the limit at the aperture; we reserve the holes and everything above the top.
    const uint64_t top_pfn = (uint64_t{1} << (64 - kShift)) - 1;
    RangeSet holes = usable.complement();
    for (const Range& h : holes) {
      const uint64_t lo = std::max<uint64_t>(1, h.first >> kShift);
      const uint64_t hi = std::min(top_pfn, h.last >> kShift);
      if (lo <= hi && (h.first >> kShift) != 0) d_.reserve(lo, hi);
    }
  }
  bool alloc(uint64_t bytes, uint64_t limit, Range& out) override {
    const uint64_t pages = pages_for(bytes);
    const uint64_t limit_pfn = limit >> kShift;
    const uint64_t pfn =
        caches_ ? d_.alloc_iova_fast(pages, limit_pfn, true) : d_.alloc_iova(pages, limit_pfn);
    if (pfn == 0) return false;
    out = Range{pfn << kShift, ((pfn + pages) << kShift) - 1};
    return true;
  }
  void free(const Range& block) override {
    const uint64_t pfn = block.first >> kShift;
    if (caches_) {
      d_.free_iova_fast(pfn, ((block.last >> kShift) - pfn) + 1);
    } else {
      d_.free_iova(pfn);
    }
  }
  bool place(uint64_t iova, uint64_t bytes, Range& out) override {
    const uint64_t pfn = iova >> kShift;
    const uint64_t pages = (bytes + kGranule - 1) >> kShift;
    d_.reserve(pfn, pfn + pages - 1);
    out = Range{iova, iova + (pages << kShift) - 1};
    return true;
  }
  uint64_t per_allocation_bytes() override { return d_.tree_bytes(); }
  uint64_t metadata_bytes() override { return d_.metadata_bytes(); }
  u128 largest_free() override {
    d_.flush_all_caches();
    return u128{d_.largest_gap()} << kShift;
  }

 private:
  bench::LinuxIovaDomain d_;
  bool caches_;
};

using Factory = std::function<std::unique_ptr<Subject>(const RangeSet&, bool)>;

std::unique_ptr<Subject> make_ours(const RangeSet& u, bool c) {
  return std::make_unique<Ours>(u, c);
}
std::unique_ptr<Subject> make_linux(const RangeSet& u, bool c) {
  return std::make_unique<Baseline>(u, c);
}

// ---------------------------------------------------------------------------------------------
// Measurement.

// One thread's counters. Each on its own cache lines: the two-thread workloads keep one per
// thread side by side in a vector, and `ops` is written on every operation.
struct alignas(64) Recorder {
  bool timed = false;
  std::vector<uint32_t> ticks;
  uint64_t ops = 0;
  uint64_t failures = 0;

  // Runs f (which returns whether it succeeded) as one operation.
  template <class F>
  bool op(F&& f) {
    ++ops;
    if (!timed) {
      const bool ok = f();
      failures += !ok;
      return ok;
    }
    const uint64_t t0 = __rdtsc();
    const bool ok = f();
    const uint64_t t1 = __rdtsc();
    ticks.push_back(static_cast<uint32_t>(std::min<uint64_t>(t1 - t0, 0xffffffffu)));
    failures += !ok;
    return ok;
  }
};

struct Result1 {
  std::string workload;
  std::string subject;
  double mops = 0;       // million operations per second (untimed pass), see throughput()
  double wall_mops = 0;  // the same against wall-clock time
  double cpu_mops = 0;   // the same against the CPU time of the whole process
  double p50 = 0, p99 = 0, p999 = 0, worst = 0;  // ns (timed pass)
  double meta_per_live = -1;                     // bytes that grow with allocations, per live
  double total_meta_per_live = -1;               // all bookkeeping bytes, per live
  double largest_free_mib = -1;
  uint64_t ops = 0, failures = 0;
  std::string note;
};

std::vector<Result1> g_results;

double pct(std::vector<uint32_t>& v, double q) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * double(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(i), v.end());
  return v[i] * g_ns_per_tick;
}

// A workload: given a subject and a recorder, runs its operations. Returns extra columns.
struct Extra {
  double meta_per_live = -1;
  double total_meta_per_live = -1;
  double largest_free_mib = -1;
  std::string note;
};

// The metadata columns, measured with `live` blocks allocated.
void measure_metadata(Subject& s, size_t live, Extra& e) {
  const double n = double(std::max<size_t>(1, live));
  e.meta_per_live = double(s.per_allocation_bytes()) / n;
  e.total_meta_per_live = double(s.metadata_bytes()) / n;
}
using Body = std::function<Extra(Subject&, Recorder&)>;

// Throughput: the best of `reps` untimed runs on fresh subjects (the machine is shared, so
// the best run is the one least disturbed). Latencies: one timed run on a fresh subject.
Result1 throughput(const std::string& workload, const std::string& name, const Factory& make,
                   const RangeSet& usable, bool caches, const Body& body) {
  Result1 r{workload, name};
  auto s = make(usable, caches);
  Recorder rec;
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = thread_cpu_seconds();
  const double process0 = process_cpu_seconds();
  Extra e = body(*s, rec);
  const double cpu = thread_cpu_seconds() - cpu0;
  const double process = process_cpu_seconds() - process0;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // One thread: its CPU time (immune to being descheduled on a shared machine). Several
  // threads (the body runs them; this thread only waits): wall-clock time.
  r.mops = double(rec.ops) / (cpu > wall / 10 ? cpu : wall) / 1e6;
  r.wall_mops = double(rec.ops) / wall / 1e6;
  r.cpu_mops = double(rec.ops) / process / 1e6;
  r.ops = rec.ops;
  r.failures = rec.failures;
  r.meta_per_live = e.meta_per_live;
  r.total_meta_per_live = e.total_meta_per_live;
  r.largest_free_mib = e.largest_free_mib;
  r.note = e.note;
  return r;
}

void latencies(Result1& r, const Factory& make, const RangeSet& usable, bool caches,
               const Body& body) {
  auto s = make(usable, caches);
  Recorder rec;
  rec.timed = true;
  rec.ticks.reserve(r.ops + 16);
  body(*s, rec);
  r.p50 = pct(rec.ticks, 0.5);
  r.p99 = pct(rec.ticks, 0.99);
  r.p999 = pct(rec.ticks, 0.999);
  r.worst =
      rec.ticks.empty() ? 0 : *std::max_element(rec.ticks.begin(), rec.ticks.end()) * g_ns_per_tick;
}

void report(const Result1& r) {
  std::fprintf(stderr, "  %-28s %-6s %9.3f Mop/s p50 %8.0f p99 %9.0f p99.9 %10.0f max %11.0f ns\n",
               r.workload.c_str(), r.subject.c_str(), r.mops, r.p50, r.p99, r.p999, r.worst);
  g_results.push_back(r);
}

// One subject alone (for a baseline too slow to repeat).
void measure(const std::string& workload, const std::string& name, const Factory& make,
             const RangeSet& usable, bool caches, const Body& body) {
  Result1 r = throughput(workload, name, make, usable, caches, body);
  latencies(r, make, usable, caches, body);
  report(r);
}

// Both subjects, throughput runs alternating ours/linux `reps` times, best of each.
void both(const std::string& workload, const RangeSet& usable, bool caches, const Body& body,
          int reps = 3) {
  Result1 best[2];
  const Factory makers[2] = {make_ours, make_linux};
  const char* names[2] = {"ours", "linux"};
  for (int rep = 0; rep < reps; ++rep) {
    for (int i = 0; i < 2; ++i) {
      if ((g_subjects & (1 << i)) == 0) continue;
      Result1 r = throughput(workload, names[i], makers[i], usable, caches, body);
      const double best_wall = rep == 0 ? 0 : best[i].wall_mops;
      const double best_cpu = rep == 0 ? 0 : best[i].cpu_mops;
      if (rep == 0 || r.mops > best[i].mops) best[i] = r;
      best[i].wall_mops = std::max(best_wall, r.wall_mops);
      best[i].cpu_mops = std::max(best_cpu, r.cpu_mops);
    }
  }
  for (int i = 0; i < 2; ++i) {
    if ((g_subjects & (1 << i)) == 0) continue;
    latencies(best[i], makers[i], usable, caches, body);
    report(best[i]);
  }
}

// The usable space of a typical x86 VFIO container: a 48-bit aperture minus the MSI window.
RangeSet usable48() {
  RangeSet s{Range{0, kMask48}};
  s.remove(Range{0xfee00000, 0xfeefffff});
  return s;
}

// ---------------------------------------------------------------------------------------------
// Workloads.

Extra cached_pairs(Subject& s, Recorder& rec) {
  const uint64_t n = scaled(4'000'000);
  Range b;
  for (uint64_t i = 0; i < n; ++i) {
    rec.op([&] { return s.alloc(kGranule, kMask48, b); });
    rec.op([&] {
      s.free(b);
      return true;
    });
  }
  return {};
}

// One thread: a FIFO of 1-granule blocks, 512 outstanding; `share` threads split the work.
Extra fifo_one(Subject& s, Recorder& rec, int share = 1) {
  const uint64_t n = scaled(4'000'000) / static_cast<uint64_t>(share);
  constexpr size_t kDepth = 512;
  std::vector<Range> ring(kDepth);
  size_t head = 0, count = 0;
  for (uint64_t i = 0; i < n; ++i) {
    if (count == kDepth) {
      rec.op([&] {
        s.free(ring[head]);
        return true;
      });
      head = (head + 1) % kDepth;
      --count;
    }
    Range b;
    if (rec.op([&] { return s.alloc(kGranule, kMask48, b); })) {
      ring[(head + count) % kDepth] = b;
      ++count;
    }
  }
  return {};
}

// A single-producer single-consumer ring of 1-granule blocks, published in batches. A slot
// holds the block's IOVA only, as a NIC descriptor would: the size is known.
struct Channel {
  static constexpr uint64_t kCap = 1024;      // a NIC ring
  alignas(64) std::atomic<uint64_t> tail{0};  // written by the producer
  alignas(64) std::atomic<uint64_t> head{0};  // written by the consumer
  alignas(64) uint64_t slots[kCap];
};

// Runs worker(0) .. worker(threads - 1) on threads started together, then adds their
// recorders to `main`.
//
// Each thread is pinned to its own CPU (the first ones this process may use), as per-CPU
// benchmarks are. Left alone, the scheduler here often started both threads on the creator's
// CPU, where they took turns 15 us at a time for the first tens of milliseconds (seen with
// `perf sched timehist`): that measured the scheduler, not the allocators.
template <class Worker>
void run_threads(int threads, Recorder& main, std::vector<Recorder>& recs, Worker worker) {
  std::vector<int> cpus;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
    for (int c = 0; c < CPU_SETSIZE && static_cast<int>(cpus.size()) < threads; ++c) {
      if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
    }
  }
  std::atomic<int> ready{0};
  auto start = [&](int id) {
    if (static_cast<int>(cpus.size()) == threads) {  // else leave placement to the scheduler
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpus[static_cast<size_t>(id)], &one);
      pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    }
    ready.fetch_add(1);
    while (ready.load() < threads) std::this_thread::yield();
    worker(id);
  };
  std::vector<std::thread> pool;
  for (int id = 0; id < threads; ++id) pool.emplace_back(start, id);
  for (std::thread& t : pool) t.join();
  for (auto& r : recs) {
    main.ops += r.ops;
    main.failures += r.failures;
    main.ticks.insert(main.ticks.end(), r.ticks.begin(), r.ticks.end());
  }
}

// Waits for a peer without a system call while it is likely running on another CPU; yields
// after a few microseconds in case it is not.
struct Backoff {
  unsigned idle = 0;
  void reset() { idle = 0; }
  void wait() {
    if (++idle < 2048) {
      _mm_pause();
    } else {
      idle = 0;
      std::this_thread::yield();
    }
  }
};

// The network-like FIFO: `threads` threads (1 or 2) joined in a ring. Each allocates 1-granule
// blocks in batches of 32 and posts them on its channel to the next thread, which completes
// (frees) the oldest ones whenever more than 512 are waiting (at the end, all of them). With
// two threads every block is freed by the thread that did not allocate it; with one thread the
// next thread is itself: the same code and the same hand-off, without a second CPU, so that
// the two-thread figure over the one-thread figure measures how the allocator scales and
// nothing else. The total number of allocations does not depend on `threads`.
Extra fifo_ring(Subject& s, Recorder& rec_main, int threads) {
  constexpr uint64_t kInFlight = 512;
  constexpr uint64_t kBatch = 32;
  const auto t = static_cast<uint64_t>(threads);
  const uint64_t n = scaled(4'000'000) / t;  // allocations per thread
  auto channels = std::make_unique<Channel[]>(t);
  std::vector<Recorder> recs(t);
  for (auto& r : recs) {
    r.timed = rec_main.timed;
    if (r.timed) r.ticks.reserve(2 * n + 16);
  }
  auto done = std::make_unique<std::atomic<bool>[]>(t);  // thread i allocated all it will
  auto worker = [&](int id) {
    const auto me = static_cast<uint64_t>(id);
    const uint64_t prev = (me + t - 1) % t;
    Channel& out = channels[me];
    Channel& in = channels[prev];
    Recorder& rec = recs[me];
    Backoff backoff;
    uint64_t attempts = 0, tail = 0, in_head = 0;
    while (true) {
      const bool prev_done = done[prev].load(std::memory_order_acquire);
      const uint64_t avail = in.tail.load(std::memory_order_acquire);
      const uint64_t keep = prev_done ? 0 : kInFlight;
      bool progress = false;
      while (avail - in_head > keep) {
        // Fetch the slots a few lines ahead: they were last written on the other CPU.
        __builtin_prefetch(&in.slots[(in_head + 32) % Channel::kCap]);
        const uint64_t iova = in.slots[in_head % Channel::kCap];
        rec.op([&] {
          s.free(Range{iova, iova + kGranule - 1});
          return true;
        });
        ++in_head;
        progress = true;
      }
      if (progress) in.head.store(in_head, std::memory_order_release);
      if (attempts < n) {
        const uint64_t room = Channel::kCap - (tail - out.head.load(std::memory_order_acquire));
        const uint64_t batch = std::min({kBatch, room, n - attempts});
        // The next batch's slots, for writing: the other CPU last read them.
        __builtin_prefetch(&out.slots[(tail + kBatch) % Channel::kCap], 1);
        __builtin_prefetch(&out.slots[(tail + kBatch + 8) % Channel::kCap], 1);
        __builtin_prefetch(&out.slots[(tail + kBatch + 16) % Channel::kCap], 1);
        __builtin_prefetch(&out.slots[(tail + kBatch + 24) % Channel::kCap], 1);
        for (uint64_t k = 0; k < batch; ++k, ++attempts) {
          Range b;
          if (rec.op([&] { return s.alloc(kGranule, kMask48, b); })) {
            out.slots[tail % Channel::kCap] = b.first;
            ++tail;
          }
        }
        if (batch != 0) {
          out.tail.store(tail, std::memory_order_release);
          progress = true;
        }
        if (attempts == n) done[me].store(true, std::memory_order_release);
      } else if (prev_done && in.tail.load(std::memory_order_acquire) == in_head) {
        break;
      }
      if (progress) {
        backoff.reset();
      } else {
        backoff.wait();
      }
    }
  };
  run_threads(threads, rec_main, recs, worker);
  return {};
}

// Two threads, each running fifo_one on its own (no cross-thread frees).
Extra fifo_own_two(Subject& s, Recorder& rec_main) {
  std::vector<Recorder> recs(2);
  for (auto& r : recs) r.timed = rec_main.timed;
  run_threads(2, rec_main, recs, [&](int id) { fifo_one(s, recs[static_cast<size_t>(id)], 2); });
  return {};
}

// Several FIFO streams at uneven rates and sizes, interleaved on one thread.
Extra streams(Subject& s, Recorder& rec) {
  struct Stream {
    uint64_t bytes;
    unsigned weight;
    size_t depth;
    std::vector<Range> ring;
    size_t head = 0, count = 0;
  };
  std::vector<Stream> st = {{kGranule, 16, 1024, {}},
                            {2 * kGranule, 6, 256, {}},
                            {16 * kGranule, 3, 64, {}},
                            {64 * kGranule, 1, 32, {}}};
  std::vector<unsigned> schedule;
  for (unsigned i = 0; i < st.size(); ++i) {
    st[i].ring.resize(st[i].depth);
    for (unsigned w = 0; w < st[i].weight; ++w) schedule.push_back(i);
  }
  Rng rng(7);
  std::shuffle(schedule.begin(), schedule.end(), rng);
  const uint64_t n = scaled(2'000'000);
  for (uint64_t i = 0; i < n; ++i) {
    Stream& x = st[schedule[i % schedule.size()]];
    if (x.count == x.depth) {
      rec.op([&] {
        s.free(x.ring[x.head]);
        return true;
      });
      x.head = (x.head + 1) % x.depth;
      --x.count;
    }
    Range b;
    if (rec.op([&] { return s.alloc(x.bytes, kMask48, b); })) {
      x.ring[(x.head + x.count) % x.depth] = b;
      ++x.count;
    }
  }
  return {};
}

// Storage-like: sizes 4 KiB to 1 MiB (half powers of two, half any multiple of 4 KiB),
// 1024 in flight, completed in random order.
uint64_t storage_size(Rng& rng) {
  const unsigned k = static_cast<unsigned>(rng() % 9);  // 2^0 .. 2^8 pages
  uint64_t pages = uint64_t{1} << k;
  if (rng() & 1) pages = std::min<uint64_t>(256, pages + rng() % pages);
  return pages * kGranule;
}

// Random churn: `live_target` blocks of size_of(rng) bytes in flight, completed in random
// order. Reports metadata and the largest free block at the end when `report`.
template <class SizeOf>
Extra churn(Subject& s, Recorder& rec, uint64_t limit, size_t live_target, uint64_t n, bool report,
            SizeOf size_of) {
  Rng rng(42);
  std::vector<Range> live;
  live.reserve(live_target + 1);
  for (uint64_t i = 0; i < n; ++i) {
    if (live.size() >= live_target) {
      const size_t j = rng() % live.size();
      const Range b = live[j];
      live[j] = live.back();
      live.pop_back();
      rec.op([&] {
        s.free(b);
        return true;
      });
    }
    Range b;
    const uint64_t bytes = size_of(rng);
    if (rec.op([&] { return s.alloc(bytes, limit, b); })) live.push_back(b);
  }
  Extra e;
  if (report) {
    measure_metadata(s, live.size(), e);
    e.largest_free_mib = double(s.largest_free()) / 1048576.0;
  }
  return e;
}

// The 32-bit space full of 1-granule blocks; then rounds of: free a random one, allocate one
// (succeeds), allocate another (fails).
Extra exhaustion(Subject& s, Recorder& rec, uint64_t rounds) {
  std::vector<Range> live;
  live.reserve(1u << 20);
  Range b;
  // Filling is not part of the measurement.
  const bool timed = rec.timed;
  Recorder fill;
  while (fill.op([&] { return s.alloc(kGranule, kMask32, b); })) live.push_back(b);
  (void)timed;
  Rng rng(1);
  uint64_t unexpected = 0;
  for (uint64_t i = 0; i < rounds; ++i) {
    const size_t j = rng() % live.size();
    const Range victim = live[j];
    rec.op([&] {
      s.free(victim);
      return true;
    });
    if (rec.op([&] { return s.alloc(kGranule, kMask32, b); })) {
      live[j] = b;
    } else {
      ++unexpected;
      live[j] = live.back();
      live.pop_back();
    }
    Range c;
    if (!rec.op([&] { return !s.alloc(kGranule, kMask32, c); })) {
      ++unexpected;
      live.push_back(c);
    }
  }
  Extra e;
  measure_metadata(s, live.size(), e);
  e.note = std::to_string(live.size()) + " live";
  if (unexpected != 0) e.note += ", " + std::to_string(unexpected) + " UNEXPECTED";
  return e;
}

// Long fragmentation run: sizes 4 KiB..1 MiB under a 32-bit limit, kept near 85% full.
Extra fragmentation(Subject& s, Recorder& rec) {
  Rng rng(3);
  std::vector<Range> live;
  const u128 space = u128{kMask32} + 1 - 0x100000;  // below 4 GiB, minus the MSI window
  const u128 target = space * 85 / 100;
  u128 used = 0;
  uint64_t failed_with_room = 0;
  const uint64_t n = scaled(300'000);
  for (uint64_t i = 0; i < n; ++i) {
    if (used >= target || (!live.empty() && rng() % 3 == 0)) {
      const size_t j = rng() % live.size();
      const Range b = live[j];
      live[j] = live.back();
      live.pop_back();
      used -= b.size();
      rec.op([&] {
        s.free(b);
        return true;
      });
      continue;
    }
    const uint64_t bytes = storage_size(rng);
    Range b;
    if (rec.op([&] { return s.alloc(bytes, kMask32, b); })) {
      live.push_back(b);
      used += b.size();
    } else {
      ++failed_with_room;
    }
  }
  Extra e;
  measure_metadata(s, live.size(), e);
  e.largest_free_mib = double(s.largest_free()) / 1048576.0;
  e.note = std::to_string(live.size()) + " live, " + std::to_string(failed_with_room) +
           " allocations failed below 85% fill";
  return e;
}

// Fixed placements right next to reserved holes, with 20000 live 4 KiB blocks around.
RangeSet usable_with_holes() {
  RangeSet s = usable48();
  for (uint64_t i = 1; i <= 256; ++i) s.remove(Range{i << 32, (i << 32) + 0xfffff});
  return s;
}

Extra fixed(Subject& s, Recorder& rec) {
  Rng rng(9);
  Recorder setup;
  Range b;
  for (int i = 0; i < 20000; ++i) setup.op([&] { return s.alloc(kGranule, kMask48, b); });
  const uint64_t n = scaled(100'000);
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t hole = (1 + rng() % 256) << 32;
    const bool below = rng() & 1;
    const uint64_t iova = below ? hole - 0x10000 : hole + 0x100000;
    Range placed;
    if (rec.op([&] { return s.place(iova, 0x10000, placed); })) {
      rec.op([&] {
        s.free(placed);
        return true;
      });
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------

const Result1* find(const std::string& w, const std::string& who) {
  for (const Result1& r : g_results) {
    if (r.workload == w && r.subject == who) return &r;
  }
  return nullptr;
}

void print_table() {
  std::printf(
      "| workload | allocator | Mop/s | median ns | p99 ns | p99.9 ns | worst ns | metadata B/live "
      "| all metadata B/live | largest free MiB | note |\n"
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
  for (const Result1& r : g_results) {
    char meta[32] = "", all_meta[32] = "", large_free[32] = "";
    if (r.meta_per_live >= 0) std::snprintf(meta, sizeof meta, "%.1f", r.meta_per_live);
    if (r.total_meta_per_live >= 0) {
      std::snprintf(all_meta, sizeof all_meta, "%.1f", r.total_meta_per_live);
    }
    if (r.largest_free_mib >= 0) {
      std::snprintf(large_free, sizeof large_free, "%.1f", r.largest_free_mib);
    }
    std::printf("| %s | %s | %.3f | %.0f | %.0f | %.0f | %.0f | %s | %s | %s | %s |\n",
                r.workload.c_str(), r.subject.c_str(), r.mops, r.p50, r.p99, r.p999, r.worst, meta,
                all_meta, large_free, r.note.c_str());
  }
}

void print_bars() {
  std::printf("\n| bar | measured | required | met |\n|---|---|---|---|\n");
  auto ratio = [](const char* w) {
    const Result1* o = find(w, "ours");
    const Result1* l = find(w, "linux");
    return o && l && l->mops > 0 ? o->mops / l->mops : 0.0;
  };
  const double mixed = ratio("mixed, uncached");
  std::printf("| mixed sizes, uncached: throughput vs baseline | %.2fx | >= 3x | %s |\n", mixed,
              mixed >= 3 ? "yes" : "NO");
  const double pairs = ratio("cached 1-granule pairs");
  std::printf("| cached 1-granule pairs: throughput vs baseline | %.2fx | >= 1x | %s |\n", pairs,
              pairs >= 1 ? "yes" : "NO");
  if (const Result1* o = find("32-bit exhaustion, uncached", "ours")) {
    const Result1* l = find("32-bit exhaustion, uncached", "linux");
    std::printf(
        "| 32-bit exhaustion, ~1M live: p99.9 | ours %.0f ns, linux %.0f ns | < 2000 ns "
        "(linux: ms) | %s |\n",
        o->p999, l ? l->p999 : 0.0, o->p999 < 2000 && l && l->p999 > 1e6 ? "yes" : "NO");
  }
  // Scaling: the ring FIFO on two threads (each block freed by the other thread) against the
  // same code on one thread (freeing its own blocks through the same ring).
  const Result1* one = find("fifo 1-granule, ring, 1 thread", "ours");
  const Result1* two = find("fifo 1-granule, ring, 2 threads", "ours");
  if (one && two) {
    // Wall-clock against wall-clock: meaningful only on an otherwise idle machine.
    const double s = two->wall_mops / one->wall_mops;
    std::printf("| FIFO: 2 threads vs 1 thread (ours, ring), wall clock | %.2fx | >= 1.7x | %s |\n",
                s, s >= 1.7 ? "yes" : "NO (see load)");
    // What two idle CPUs would give: twice the work per CPU-second with two threads, over the
    // work per CPU-second with one. Independent of other processes competing for the CPUs.
    const double c = 2 * two->cpu_mops / one->cpu_mops;
    std::printf(
        "| FIFO: 2 threads vs 1 thread (ours, ring), per CPU-second x 2 | %.2fx | >= 1.7x | %s "
        "|\n",
        c, c >= 1.7 ? "yes" : "NO");
    if (const Result1* plain = find("fifo 1-granule, 1 thread", "ours")) {
      std::printf(
          "| (ours, ring on 2 threads vs the plain FIFO on 1 thread, no ring: wall clock) | "
          "%.2fx | | |\n",
          two->wall_mops / plain->wall_mops);
      if (const Result1* own = find("fifo 1-granule, 2 threads, each its own", "ours")) {
        std::printf(
            "| (ours, two independent plain FIFOs vs one: wall clock / per CPU-second x 2) | "
            "%.2fx / %.2fx | | |\n",
            own->wall_mops / plain->wall_mops, 2 * own->cpu_mops / plain->cpu_mops);
      }
    }
    const Result1* l1 = find("fifo 1-granule, ring, 1 thread", "linux");
    const Result1* l2 = find("fifo 1-granule, ring, 2 threads", "linux");
    if (l1 && l2) {
      std::printf("| (baseline ring FIFO: wall clock / per CPU-second x 2) | %.2fx / %.2fx | | |\n",
                  l2->wall_mops / l1->wall_mops, 2 * l2->cpu_mops / l1->cpu_mops);
    }
  }
  double worst_meta = 0;
  for (const Result1& r : g_results) {
    if (r.subject == "ours") worst_meta = std::max(worst_meta, r.meta_per_live);
  }
  std::printf("| metadata per live allocation (ours, worst workload) | %.1f B | <= 32 B | %s |\n",
              worst_meta, worst_meta <= 32 ? "yes" : "NO");
}

}  // namespace
}  // namespace iovamap

int main(int argc, char** argv) {
  using namespace iovamap;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) g_scale = 10;
    if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
    if (std::strcmp(argv[i], "--subject") == 0 && i + 1 < argc) {
      ++i;
      g_subjects = std::strcmp(argv[i], "ours") == 0    ? 1
                   : std::strcmp(argv[i], "linux") == 0 ? 2
                                                        : 3;
    }
  }
  auto want = [&](const char* name) { return only.empty() || only == name; };
  calibrate_tsc();
  std::printf("Latency clock: TSC, calibrated at %.2f ns per tick.\n\n", g_ns_per_tick);
  const RangeSet u48 = usable48();
  RangeSet u40{Range{0, (uint64_t{1} << 40) - 1}};
  u40.remove(Range{0xfee00000, 0xfeefffff});

  if (want("pairs")) both("cached 1-granule pairs", u48, true, cached_pairs);
  if (want("fifo")) {
    both("fifo 1-granule, 1 thread", u48, true,
         [](Subject& s, Recorder& r) { return fifo_one(s, r); });
    both("fifo 1-granule, ring, 1 thread", u48, true,
         [](Subject& s, Recorder& r) { return fifo_ring(s, r, 1); });
    both("fifo 1-granule, ring, 2 threads", u48, true,
         [](Subject& s, Recorder& r) { return fifo_ring(s, r, 2); });
    both("fifo 1-granule, 2 threads, each its own", u48, true, fifo_own_two);
  }
  if (want("streams")) both("uneven FIFO streams", u48, true, streams);
  if (want("mixed")) {
    both("mixed, uncached, 256 in flight", u48, false, [](Subject& s, Recorder& r) {
      return churn(s, r, kMask48, 256, scaled(1'000'000), true, storage_size);
    });
    both("mixed, uncached", u48, false, [](Subject& s, Recorder& r) {
      return churn(s, r, kMask48, 1024, scaled(1'000'000), true, storage_size);
    });
    both("mixed, uncached, 4096 in flight", u48, false, [](Subject& s, Recorder& r) {
      return churn(s, r, kMask48, 4096, scaled(1'000'000), true, storage_size);
    });
    both("mixed, cached", u48, true, [](Subject& s, Recorder& r) {
      return churn(s, r, kMask48, 1024, scaled(1'000'000), true, storage_size);
    });
  }
  if (want("exhaustion")) {
    measure("32-bit exhaustion, uncached", "ours", make_ours, u40, false,
            [](Subject& s, Recorder& r) { return exhaustion(s, r, scaled(200'000)); });
    measure("32-bit exhaustion, uncached", "linux", make_linux, u40, false,
            [](Subject& s, Recorder& r) { return exhaustion(s, r, scaled(300)); });
    both("32-bit exhaustion, cached", u40, true,
         [](Subject& s, Recorder& r) { return exhaustion(s, r, scaled(200'000)); });
  }
  if (want("fragmentation")) {
    // Slow for the baseline: one throughput pass each.
    RangeSet u32{Range{0, kMask32}};
    u32.remove(Range{0xfee00000, 0xfeefffff});
    measure("fragmentation, 4 GiB at 85%", "ours", make_ours, u32, true, fragmentation);
    measure("fragmentation, 4 GiB at 85%", "linux", make_linux, u32, true, fragmentation);
  }
  if (want("large")) {
    both("2 MiB blocks", u48, false, [](Subject& s, Recorder& r) {
      return churn(s, r, kMask48, 256, scaled(400'000), false,
                   [](Rng&) { return uint64_t{2} << 20; });
    });
    both("1 GiB blocks", u48, false, [](Subject& s, Recorder& r) {
      return churn(s, r, kMask48, 64, scaled(400'000), false,
                   [](Rng&) { return uint64_t{1} << 30; });
    });
  }
  if (want("fixed")) both("fixed placements by holes", usable_with_holes(), true, fixed);
  print_table();
  print_bars();
  return 0;
}
