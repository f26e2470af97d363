#include "iovamap/map_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <utility>

#include "input_checks.h"
#include "iovamap/input_file.h"
#include "iovamap/quantity.h"
#include "unique_fd.h"

namespace iovamap {

namespace {

// Splits at runs of spaces and tabs.
std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace

Result<std::optional<PlannedMapping>> parse_map_line(std::string_view line,
                                                     const std::string& file_name,
                                                     size_t line_number) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
  std::vector<std::string_view> f = fields(line);
  if (f.empty()) return std::optional<PlannedMapping>();
  auto where = [&] { return file_name + ":" + std::to_string(line_number) + ": "; };
  std::string size_text;
  if (f.size() == 2) {
    size_text = f[1];
  } else if (f.size() == 3) {
    size_text = std::string(f[1]) + " " + std::string(f[2]);  // "16 MiB"
  } else {
    return make_error(EINVAL, where() + "expected 'IOVA SIZE'");
  }
  Result<uint64_t> iova = parse_address(f[0]);
  if (!iova) return make_error(EINVAL, where() + "IOVA " + iova.error().message);
  Result<u128> size = parse_size(size_text);
  if (!size) return make_error(EINVAL, where() + "size " + size.error().message);
  return std::optional<PlannedMapping>(PlannedMapping{*iova, *size, line_number});
}

Result<std::vector<PlannedMapping>> parse_map_file(std::string_view text,
                                                   const std::string& file_name) {
  std::vector<PlannedMapping> out;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    IOVAMAP_ASSIGN_OR_RETURN(std::optional<PlannedMapping> m,
                             parse_map_line(line, file_name, line_number));
    if (m) out.push_back(*m);
  }
  return out;
}

// ---- MapFile ---------------------------------------------------------------------------------

MapFile::MapFile(int fd, bool owned, std::string name)
    : fd_(fd), owned_(owned), name_(std::move(name)) {}

MapFile::MapFile(MapFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      owned_(std::exchange(other.owned_, false)),
      seekable_(other.seekable_),
      start_(other.start_),
      validated_(other.validated_),
      name_(std::move(other.name_)) {}

MapFile& MapFile::operator=(MapFile&& other) noexcept {
  if (this != &other) {
    if (owned_ && fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    owned_ = std::exchange(other.owned_, false);
    seekable_ = other.seekable_;
    start_ = other.start_;
    validated_ = other.validated_;
    name_ = std::move(other.name_);
  }
  return *this;
}

MapFile::~MapFile() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

Result<MapFile> MapFile::open(const std::string& path) {
  if (path.empty()) return make_error(ENOENT, "an empty file name");
  // O_NONBLOCK: opening a FIFO without a writer must not wait; it is refused below anyway.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) {
    int e = errno;
    return make_error(e, path + ": cannot open: " + std::strerror(e));
  }
  IOVAMAP_RETURN_IF_ERROR(check_input_fd(fd.get(), path, /*named=*/true));
  MapFile m(fd.release(), true, path);
  m.seekable_ = true;
  return m;
}

Result<MapFile> MapFile::from_fd(int fd, const std::string& name) {
  IOVAMAP_RETURN_IF_ERROR(check_input_fd(fd, name, /*named=*/false));
  MapFile m(fd, false, name);
  struct stat st;
  ::fstat(fd, &st);
  off_t at = S_ISREG(st.st_mode) ? ::lseek(fd, 0, SEEK_CUR) : -1;
  m.seekable_ = at >= 0;
  m.start_ = at >= 0 ? at : 0;
  return m;
}

Status MapFile::read_lines(int spill, const std::function<Status(std::string_view, size_t)>& line) {
  if (seekable_ && ::lseek(fd_, start_, SEEK_SET) < 0) {
    int e = errno;
    return make_system_error(e, name_ + ": cannot read it again: " + std::strerror(e));
  }
  std::string pending;  // the start of a line whose end has not arrived
  std::vector<char> buf(size_t{1} << 16);
  size_t line_number = 0, total = 0;
  for (;;) {
    ssize_t n = ::read(fd_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      return make_error(e, name_ + ": read error: " + std::strerror(e));
    }
    if (n == 0) break;
    total += static_cast<size_t>(n);
    if (total > kMaxMapFileBytes)
      return make_error(EFBIG, name_ + ": larger than " + std::to_string(kMaxMapFileBytes >> 20) +
                                   " MiB, the most iovamap reads from one file");
    if (spill >= 0) {
      for (size_t done = 0; done < static_cast<size_t>(n);) {
        ssize_t w = ::write(spill, buf.data() + done, static_cast<size_t>(n) - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          int e = errno;
          return make_system_error(
              e, name_ + ": cannot keep a copy to read twice: " + std::strerror(e));
        }
        done += static_cast<size_t>(w);
      }
    }
    std::string_view chunk(buf.data(), static_cast<size_t>(n));
    while (!chunk.empty()) {
      size_t eol = chunk.find('\n');
      std::string_view piece = chunk.substr(0, eol);
      if (pending.size() + piece.size() > kMaxMapLineBytes)
        return make_error(EINVAL, name_ + ":" + std::to_string(line_number + 1) +
                                      ": a line longer than " + std::to_string(kMaxMapLineBytes) +
                                      " bytes");
      if (eol == std::string_view::npos) {
        pending.append(piece);
        break;
      }
      ++line_number;
      if (pending.empty()) {
        IOVAMAP_RETURN_IF_ERROR(line(piece, line_number));
      } else {
        pending.append(piece);
        IOVAMAP_RETURN_IF_ERROR(line(pending, line_number));
        pending.clear();
      }
      chunk.remove_prefix(eol + 1);
    }
  }
  if (!pending.empty()) IOVAMAP_RETURN_IF_ERROR(line(pending, line_number + 1));
  return {};
}

Result<size_t> MapFile::validate() {
  size_t count = 0;
  auto check = [&](std::string_view text, size_t number) -> Status {
    IOVAMAP_ASSIGN_OR_RETURN(std::optional<PlannedMapping> m, parse_map_line(text, name_, number));
    if (m) ++count;
    return {};
  };
  if (seekable_) {
    IOVAMAP_RETURN_IF_ERROR(read_lines(-1, check));
  } else {
    // A pipe can be read once: keep a copy in an unnamed temporary file for the second pass.
    const char* dir = std::getenv("TMPDIR");
    std::string tmp = dir && *dir ? dir : "/tmp";
    UniqueFd spill(::open(tmp.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!spill) {
      int e = errno;
      return make_system_error(
          e, name_ + ": no temporary file in " + tmp + " to read it twice: " + std::strerror(e));
    }
    IOVAMAP_RETURN_IF_ERROR(read_lines(spill.get(), check));
    if (owned_) ::close(fd_);
    fd_ = spill.release();
    owned_ = true;
    seekable_ = true;
    start_ = 0;
  }
  validated_ = true;
  return count;
}

Status MapFile::for_each(const std::function<Status(const PlannedMapping&)>& each) {
  if (!validated_) return make_error(EINVAL, name_ + ": for_each before validate");
  return read_lines(-1, [&](std::string_view text, size_t number) -> Status {
    IOVAMAP_ASSIGN_OR_RETURN(std::optional<PlannedMapping> m, parse_map_line(text, name_, number));
    if (!m) return {};
    return each(*m);
  });
}

}  // namespace iovamap
