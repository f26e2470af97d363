// The C API's handle table and error helpers (private): what src/c_api.cc and the allocator's
// two hot C calls (iovamap_allocator_alloc and iovamap_allocator_free, which live in
// src/iova_allocator.cc so that the allocator's cached path is inlined into them) share.
//
// A handle is a value, tag | generation | slot, naming a slot of a process-wide table; it is
// never a pointer to our objects. Looking one up reads the slot (two atomic loads, no lock) and
// compares the whole value, so NULL, a destroyed handle, a handle of another type or any other
// pointer is refused without being dereferenced.
//
// Example (inside an extern "C" function of the C API):
//   return guarded("iovamap_allocator_free", [&] {
//     IovaAllocator* a = lookup<IovaAllocator>(alloc);
//     if (!a) [[unlikely]] return bad_handle(Tag::kAllocator);
//     ...
//   });
//
// Sharp edges:
//   - Errors are returned as negative errnos; the message goes to the calling thread's last
//     error (iovamap_last_error). Every function here that builds a message is out of line.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "iovamap/result.h"

namespace iovamap {
class IovaAllocator;

namespace c_api {

enum class Tag : uintptr_t { kHost = 1, kReport = 2, kChecker = 3, kAllocator = 4 };

constexpr unsigned kSlotBits = 20;  // 2^20 live handles
constexpr unsigned kTagBits = 4;
constexpr unsigned kChunkBits = 10;
constexpr uintptr_t kSlotMask = (uintptr_t{1} << kSlotBits) - 1;
constexpr size_t kChunkSize = size_t{1} << kChunkBits;
constexpr size_t kChunks = size_t{1} << (kSlotBits - kChunkBits);

struct Slot {
  std::atomic<uintptr_t> handle{0};  // the live handle's value, 0 when free
  std::atomic<void*> object{nullptr};
};

// The chunks of slots, read by every look-up without a lock (defined in src/c_api.cc).
// Constant-initialised and trivially destructible: usable from the first call to the very end
// of the process, with no guard. The first chunk is static, so that a program with fewer than
// 1024 live handles finds its slot without loading a chunk pointer first.
extern Slot g_first_chunk[kChunkSize];
extern std::array<std::atomic<Slot*>, kChunks> g_chunks;

// The object of a live handle of type `tag`, or nullptr.
inline void* find_object(Tag tag, uintptr_t h) {
  if (((h >> kSlotBits) & ((uintptr_t{1} << kTagBits) - 1)) != static_cast<uintptr_t>(tag))
    return nullptr;
  uintptr_t index = h & kSlotMask;
  Slot* chunk = index < kChunkSize ? g_first_chunk
                                   : g_chunks[index >> kChunkBits].load(std::memory_order_acquire);
  if (!chunk) return nullptr;
  Slot& s = chunk[index & (kChunkSize - 1)];
  if (s.handle.load(std::memory_order_acquire) != h) return nullptr;
  return s.object.load(std::memory_order_relaxed);
}

// The tag of each handle type's object (T::kTag). An allocator handle's slot holds the
// IovaAllocator itself.
// Inline: an explicit specialization of a variable template is not implicitly inline, and
// two translation units (c_api.cc, iova_allocator.cc) include this header.
template <class T>
inline constexpr Tag kTagOf = T::kTag;
template <>
inline constexpr Tag kTagOf<IovaAllocator> = Tag::kAllocator;

// The T behind a live handle of T's type, or nullptr.
template <class T, class H>
T* lookup(const H* handle) {
  return static_cast<T*>(find_object(kTagOf<T>, reinterpret_cast<uintptr_t>(handle)));
}

// Keeps `message` as the calling thread's last error and returns -code (-EINVAL when code is
// not positive).
int fail(int code, std::string message);
int fail(const Error& e);
// The same, out of line, for the argument errors of hot calls: their callers build no string.
[[gnu::cold, gnu::noinline]] int fail_cold(int code, const char* message);
// An IovaAllocator::ErrorSink: keeps the error's message as the last error.
void keep_error(const Error& e);
// -EBADF: `tag`'s handle is not live.
[[gnu::cold, gnu::noinline]] int bad_handle(Tag tag);
// -EINVAL: argument `name` of `function` is NULL.
[[gnu::cold, gnu::noinline]] int null_argument(const char* function, const char* name);
// The errno for the exception being handled, its message kept: std::bad_alloc is ENOMEM,
// anything else EIO. Called only from guarded()'s handler.
[[gnu::cold, gnu::noinline]] int exception_to_errno(const char* what) noexcept;

// Runs `body`, which returns 0 or a negative errno, keeping exceptions inside. Inlined: the
// guard costs nothing until something throws, but a call to it would cost every function.
template <class F>
[[gnu::always_inline]] inline int guarded(const char* what, F&& body) noexcept {
  try {
    return body();
  } catch (...) {
    return exception_to_errno(what);
  }
}

}  // namespace c_api
}  // namespace iovamap
