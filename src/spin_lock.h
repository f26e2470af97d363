// A small spinlock for short critical sections (the IOVA tree's), BasicLockable.
//
// Example:
//   SpinLock lock;
//   { std::lock_guard<SpinLock> guard(lock); ...a few hundred nanoseconds of work... }
//
// Test-and-test-and-set: waiters spin on a plain load and yield the CPU between attempts, so a
// preempted holder is not starved. The kernel protects its IOVA tree with a spinlock too
// (drivers/iommu/iova.c, iova_rbtree_lock). Sharp edge: not fair, not recursive; do not hold it
// across anything that may block for long.
#pragma once

#include <atomic>
#include <thread>

namespace iovamap {

class SpinLock {
 public:
  // Takes the lock, spinning (and yielding) until it is free.
  void lock() {
    while (flag_.exchange(true, std::memory_order_acquire)) {
      while (flag_.load(std::memory_order_relaxed)) std::this_thread::yield();
    }
  }
  // Releases the lock; the caller must hold it.
  void unlock() { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

}  // namespace iovamap
