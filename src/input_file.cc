// Bounded reads of user-named files (input_file.h).
#include "iovamap/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>

#include "input_checks.h"
#include "unique_fd.h"

namespace iovamap {
namespace {

// What a file that is not regular is, for the message.
const char* kind_of(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISDIR(mode)) return "a directory";
  return "not a regular file";
}

// read_to_end with the file named in errors.
Result<std::string> read_all(int fd, const std::string& name, size_t max_bytes) {
  Result<std::string> text = read_to_end(fd, max_bytes);
  if (text) return text;
  if (text.error().code == EFBIG)
    return make_error(EFBIG, name + ": larger than " + std::to_string(max_bytes >> 20) +
                                 " MiB, the most iovamap reads from one file");
  return text.error().with_context(name + ": read error");
}

}  // namespace

Result<std::string> read_to_end(int fd, size_t max_bytes) {
  std::string out;
  size_t chunk = 4096;
  for (;;) {
    size_t old = out.size();
    out.resize(old + chunk);
    ssize_t n = ::read(fd, out.data() + old, chunk);
    if (n < 0) {
      int e = errno;
      out.resize(old);
      if (e == EINTR) continue;
      return make_error(e, std::strerror(e));
    }
    out.resize(old + static_cast<size_t>(n));
    if (n == 0) return out;
    if (out.size() > max_bytes)
      return make_error(EFBIG, "larger than " + std::to_string(max_bytes) + " bytes");
    if (chunk < (size_t{1} << 20)) chunk *= 2;
  }
}

Status check_input_fd(int fd, const std::string& name, bool named) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    return make_error(e, name + ": " + std::strerror(e) + (e == EBADF ? " (closed)" : ""));
  }
  if (S_ISDIR(st.st_mode)) return make_error(EISDIR, name + ": is a directory, not a file");
  if (named) {
    if (!S_ISREG(st.st_mode))
      return make_error(EINVAL, name + ": " + kind_of(st.st_mode) + ", not a regular file");
    return {};
  }
  // A device could stream forever (/dev/zero); a terminal and /dev/null (1:3) are fine.
  bool dev_null = S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3;
  if ((S_ISCHR(st.st_mode) && !::isatty(fd) && !dev_null) || S_ISBLK(st.st_mode))
    return make_error(EINVAL, name + ": " + kind_of(st.st_mode) + ", not a file or a pipe");
  return {};
}

Result<std::string> read_input_file(const std::string& path, size_t max_bytes) {
  if (path.empty()) return make_error(ENOENT, "an empty file name");
  // O_NONBLOCK: opening a FIFO without a writer must not wait; it is refused below anyway.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) {
    int e = errno;
    return make_error(e, path + ": cannot open: " + std::strerror(e));
  }
  IOVAMAP_RETURN_IF_ERROR(check_input_fd(fd.get(), path, /*named=*/true));
  struct stat st;
  ::fstat(fd.get(), &st);
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    return make_error(EFBIG, path + ": larger than " + std::to_string(max_bytes >> 20) +
                                 " MiB, the most iovamap reads from one file");
  return read_all(fd.get(), path, max_bytes);
}

Result<std::string> read_input_fd(int fd, const std::string& name, size_t max_bytes) {
  IOVAMAP_RETURN_IF_ERROR(check_input_fd(fd, name, /*named=*/false));
  return read_all(fd, name, max_bytes);
}

}  // namespace iovamap
