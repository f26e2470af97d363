// The allocator through the C API (include/iovamap/iovamap.h) against the C++ call it wraps,
// in the same run: what a C program pays for the handle check, the error-code conversion and
// the exception guard on every allocate and free.
//
// Usage: c_api_bench [--quick]
// Three workloads, each run on both subjects in alternation (C++, C, C++, C, ...) for 7
// rounds; the best round of each is kept (the least disturbed by the other work on the
// machine) and the ratio C / C++ printed. --quick: 1/10 of the operations. Time is the
// thread's CPU time, not the wall clock: on a shared machine a pass is often descheduled, and
// the wall clock would charge the other processes' time to whichever subject was running.
//   pairs  allocate 1 granule and free it at once (the per-thread cache path: the cheapest
//          operation, so the wrapper's cost shows most)
//   batch  allocate 512 blocks of 1 to 64 granules, then free them in random order
//   large  allocate 64 blocks of 1 MiB to 64 MiB below a 40-bit limit, then free them (the
//          tree path)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#include "iovamap/iova_allocator.h"
#include "iovamap/iovamap.h"

namespace iovamap {
namespace {

constexpr uint64_t kGranule = 4096;
constexpr uint64_t kLimit = (uint64_t{1} << 40) - 1;
constexpr int kRounds = 7;
uint64_t g_scale = 1;

struct Rng {
  uint64_t state;
  uint64_t operator()() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

// One subject: allocate and free, through C++ or through C, each with its own block type (as
// a program using it would keep its blocks: no conversion in the loop).
struct Cxx {
  using Block = Range;
  IovaAllocator* a;
  bool alloc(uint64_t size, Block* out) {
    Result<Range> r = a->allocate(size, {.limit = kLimit});
    if (!r) return false;
    *out = *r;
    return true;
  }
  bool free(const Block& r) { return a->free(r).ok(); }
};
struct C {
  using Block = iovamap_range;
  iovamap_allocator* a;
  bool alloc(uint64_t size, Block* out) {
    return iovamap_allocator_alloc(a, size, kLimit, 0, out) == 0;
  }
  bool free(const Block& r) { return iovamap_allocator_free(a, &r) == 0; }
};

// This thread's CPU time in nanoseconds.
double thread_ns() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
}

// CPU nanoseconds per operation (an allocate or a free) of one pass of `workload`.
template <class S>
double pass(S s, const char* workload, uint64_t ops) {
  using Block = typename S::Block;
  Rng rng{42};
  std::vector<Block> live;
  uint64_t done = 0;
  const double start = thread_ns();
  auto must = [](bool ok) {
    if (!ok) {
      std::fprintf(stderr, "c_api_bench: an operation failed\n");
      std::exit(1);
    }
  };
  if (std::strcmp(workload, "pairs") == 0) {
    Block r;
    for (; done < ops; done += 2) {
      must(s.alloc(kGranule, &r));
      must(s.free(r));
    }
  } else {
    const bool large = std::strcmp(workload, "large") == 0;
    const size_t batch = large ? 64 : 512;
    while (done < ops) {
      live.clear();
      for (size_t i = 0; i < batch; ++i) {
        uint64_t size = large ? (uint64_t{1} << 20) << (rng() % 7) : kGranule * (1 + rng() % 64);
        Block r;
        must(s.alloc(size, &r));
        live.push_back(r);
      }
      for (size_t i = live.size(); i > 1; --i) std::swap(live[i - 1], live[rng() % i]);
      for (const Block& r : live) must(s.free(r));
      done += 2 * batch;
    }
  }
  return (thread_ns() - start) / static_cast<double>(done);
}

int run(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      g_scale = 10;
    } else {
      std::fprintf(stderr, "usage: c_api_bench [--quick]\n");
      return 2;
    }
  }
  // The usable space of a typical x86 container below 40 bits: everything but the MSI window.
  const iovamap_range usable[] = {{0, 0xfedfffff}, {0xfef00000, kLimit}};
  RangeSet set{Range{0, 0xfedfffff}, Range{0xfef00000, kLimit}};
  std::printf("| workload | ops per pass | C++ ns/op | C API ns/op | C / C++ |\n");
  std::printf("|---|---:|---:|---:|---:|\n");
  struct Workload {
    const char* name;
    uint64_t ops;
  };
  for (Workload w : {Workload{"pairs", 20'000'000}, Workload{"batch", 4'000'000},
                     Workload{"large", 1'000'000}}) {
    uint64_t ops = w.ops / g_scale;
    // Separate allocators, each warmed by one pass, so neither inherits the other's caches.
    auto cxx = IovaAllocator::create(set, kGranule);
    iovamap_allocator* c = nullptr;
    if (!cxx || iovamap_allocator_create(usable, 2, kGranule, &c) != 0) {
      std::fprintf(stderr, "c_api_bench: cannot create the allocators\n");
      return 1;
    }
    pass(Cxx{cxx->get()}, w.name, ops / 10);
    pass(C{c}, w.name, ops / 10);
    double best_cxx = 1e30, best_c = 1e30;
    for (int round = 0; round < kRounds; ++round) {
      best_cxx = std::min(best_cxx, pass(Cxx{cxx->get()}, w.name, ops));
      best_c = std::min(best_c, pass(C{c}, w.name, ops));
    }
    std::printf("| %s | %llu | %.2f | %.2f | %.3f |\n", w.name,
                static_cast<unsigned long long>(ops), best_cxx, best_c, best_c / best_cxx);
    iovamap_allocator_destroy(c);
  }
  return 0;
}

}  // namespace
}  // namespace iovamap

int main(int argc, char** argv) {
  return iovamap::run(argc, argv);
}
