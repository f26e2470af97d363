// Recoverable errors as return values.
//
// Every operation in iovamap that can fail on bad input, a missing file or a refused ioctl
// returns a `Result<T>`: either the value or an `Error` carrying an errno value and a message
// with its context (the file and line, the device, the range). Nothing in the library throws
// for input it reads, and nothing prints: the caller decides.
//
// Example:
//   Result<uint64_t> r = parse_u64("0x1000", "topology.toml:3");
//   if (!r) return r.error();            // propagate, context kept
//   uint64_t v = *r;
//
// Sharp edges: `value()` and `operator*` on an error abort (a programming error, not input).
#pragma once

#include <cerrno>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace iovamap {

// Why something failed: `code` is an errno value (EINVAL, ENOENT, EEXIST, ...), the same one
// the kernel would return where the failure models a kernel operation; `message` says what and
// where, e.g. "sys/kernel/iommu_groups/3/reserved_regions:2: bad type 'foo'".
struct Error {
  int code = EINVAL;
  std::string message;

  // Returns a copy with `context + ": "` put in front of the message.
  Error with_context(const std::string& context) const {
    return Error{code, context.empty() ? message : context + ": " + message};
  }
};

inline Error make_error(int code, std::string message) { return Error{code, std::move(message)}; }

// Either a T or an Error. Implicitly constructible from both, so `return value;` and
// `return make_error(...)` both work.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}    // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return check(), std::get<0>(v_); }
  const T& value() const& { return check(), std::get<0>(v_); }
  T&& value() && { return check(), std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // Precondition: !ok().
  const Error& error() const { return std::get<1>(v_); }

 private:
  void check() const {
    if (!ok()) std::abort();
  }
  std::variant<T, Error> v_;
};

// The result of an operation that has no value.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace iovamap
