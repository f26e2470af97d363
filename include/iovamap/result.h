// Recoverable errors as return values, each saying what kind of failure it is.
//
// Every operation in iovamap that can fail on bad input, a missing file or a refused ioctl
// returns a `Result<T>`: either the value or an `Error` carrying an errno value, a message with
// its context (the file and line, the device, the range), and its kind:
//   kInput    the input is wrong: a malformed file, an unknown group, bad usage;
//   kRefused  the kernel (modelled or real) says no, with the kernel's own errno: an attach
//             that fails, a MAP_DMA outside the usable ranges. An answer, not a malfunction;
//   kSystem   the system could not be asked: no permission, no VFIO, an I/O error.
// Callers branch on `kind` and `code`, never on the message. Nothing in the library throws
// for input it reads, and nothing prints: the caller decides.
//
// Example:
//   Result<Range> parse_window(std::string_view text) {
//     IOVAMAP_ASSIGN_OR_RETURN(uint64_t first, parse_address(text));  // propagates, context kept
//     if (first == 0) return make_error(EINVAL, "window: starts at 0");
//     return Range{first, first + 0xfff};
//   }
//   Status s = container.attach(group);
//   if (!s && s.error().kind == ErrorKind::kRefused) ...   // the kernel would say no
//
// Sharp edges: `value()` and `operator*` on an error abort (a programming error, not input).
// The two macros return from the calling function; they are the only macros of the library.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace iovamap {

// What kind of failure an Error is (see the file comment). The command line maps kRefused to
// exit status 1 and the others to 2.
enum class ErrorKind : uint8_t { kInput, kRefused, kSystem };
// "input", "refused", "system".
std::string_view error_kind_name(ErrorKind kind);

// The symbolic name of an errno value ("EINVAL"), or "E<number>" for one the C library does not
// name.
std::string errno_name(int code);

// Why something failed: `code` is an errno value (EINVAL, ENOENT, EEXIST, ...), the same one
// the kernel would return where the failure models a kernel operation; `message` says what and
// where, e.g. "sys/kernel/iommu_groups/3/reserved_regions:2: bad type 'foo'".
struct Error {
  int code = EINVAL;
  std::string message;
  ErrorKind kind = ErrorKind::kInput;

  // Returns a copy with `context + ": "` put in front of the message (kind and code kept).
  Error with_context(const std::string& context) const {
    return Error{code, context.empty() ? message : context + ": " + message, kind};
  }
};

// Bad input (ErrorKind::kInput).
inline Error make_error(int code, std::string message) {
  return Error{code, std::move(message), ErrorKind::kInput};
}
// The kernel's refusal, with the kernel's errno (ErrorKind::kRefused).
inline Error make_refusal(int code, std::string message) {
  return Error{code, std::move(message), ErrorKind::kRefused};
}
// The system could not be asked (ErrorKind::kSystem).
inline Error make_system_error(int code, std::string message) {
  return Error{code, std::move(message), ErrorKind::kSystem};
}

// Either a T or an Error. Implicitly constructible from both, so `return value;` and
// `return make_error(...)` both work.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
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

// Evaluates `expr` (a Status or a Result<T>) and returns its error from the calling function
// when it failed.
#define IOVAMAP_RETURN_IF_ERROR(expr) \
  IOVAMAP_RETURN_IF_ERROR_IMPL_(IOVAMAP_CONCAT_(iovamap_status_, __LINE__), expr)
#define IOVAMAP_RETURN_IF_ERROR_IMPL_(tmp, expr)          \
  do {                                                    \
    if (auto tmp = (expr); !tmp.ok()) return tmp.error(); \
  } while (false)

// Evaluates `expr` (a Result<T>); on error returns it from the calling function, else moves
// the value into `lhs`, which may declare a variable: IOVAMAP_ASSIGN_OR_RETURN(auto x, f());
#define IOVAMAP_ASSIGN_OR_RETURN(lhs, expr) \
  IOVAMAP_ASSIGN_OR_RETURN_IMPL_(IOVAMAP_CONCAT_(iovamap_result_, __LINE__), lhs, expr)
#define IOVAMAP_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.error();                   \
  lhs = std::move(tmp).value()
#define IOVAMAP_CONCAT_(a, b) IOVAMAP_CONCAT2_(a, b)
#define IOVAMAP_CONCAT2_(a, b) a##b
