// Private: the one owner of a file descriptor in iovamap, and the one bounded read to the end.
//
// A UniqueFd closes its descriptor when it goes out of scope, so no error path can leak one.
// Move-only. `release()` hands the descriptor to a caller that closes it itself.
//
// Example:
//   UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
//   if (!fd) return make_system_error(errno, path + ": " + std::strerror(errno));
//   ::read(fd.get(), buf, n);
//
// Sharp edge: `close()` reports close(2)'s error (a write-back failure on some filesystems);
// the destructor cannot, so writers call close() themselves.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string>
#include <utility>

#include "iovamap/result.h"

namespace iovamap {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  // Gives up ownership: the caller closes the descriptor.
  int release() { return std::exchange(fd_, -1); }
  // Closes the current descriptor (if any) and owns `fd` instead.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  // Closes now; 0, or the errno close(2) reported.
  int close() {
    if (fd_ < 0) return 0;
    int rc = ::close(std::exchange(fd_, -1));
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_ = -1;
};

// Reads `fd` to its end, failing with EFBIG once more than `max_bytes` arrived. Errors carry
// the bare reason ("larger than 4194304 bytes"); the caller names the file.
Result<std::string> read_to_end(int fd, size_t max_bytes);

}  // namespace iovamap
