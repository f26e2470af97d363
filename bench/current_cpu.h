// The CPU the calling thread runs on, cheaply: what the baseline's per-CPU caches are indexed by
// (bench/linux_iova.h; the kernel reads its per-CPU pointer in one instruction).
//
// Example:
//   CpuCache& c = caches[current_cpu() % cpus];
//
// glibc (2.35 and later) registers a restartable-sequences area for every thread, in which the
// kernel keeps the current CPU number up to date; reading it is one load from thread-local
// storage. Without it (older glibc, rseq disabled, valgrind) we fall back to sched_getcpu().
// Sharp edge: the answer may be stale as soon as it is returned (the thread can migrate), so it
// only picks a cache; the cache still needs its lock.
#pragma once

#include <sched.h>
#include <sys/rseq.h>

#include <cstdint>

namespace iovamap {

// The current CPU number (0 when it cannot be known).
inline unsigned current_cpu() {
  if (__rseq_size != 0) {
    const auto* area = reinterpret_cast<const volatile struct rseq*>(
        static_cast<const char*>(__builtin_thread_pointer()) + __rseq_offset);
    const auto cpu = static_cast<int32_t>(area->cpu_id);
    if (cpu >= 0) return static_cast<unsigned>(cpu);
  }
  const int cpu = sched_getcpu();
  return cpu < 0 ? 0u : static_cast<unsigned>(cpu);
}

}  // namespace iovamap
