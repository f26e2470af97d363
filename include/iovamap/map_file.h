// Map files: the DMA mappings a VMM or a userspace driver plans to make, for `iovamap check`.
//
// One mapping per line, "IOVA SIZE": each a quantity (quantity.h: hex with 0x or decimal, with
// an optional binary unit, "16MiB" or "16 MiB"), separated by spaces or tabs. "#" starts a
// comment; blank lines are skipped; CRLF line ends are accepted.
//
// Example:
//   # guest RAM below the PCI hole, then above 4 GiB
//   0x0          0xc0000000
//   0x100000000  62GiB
//
//   Result<std::vector<PlannedMapping>> m = parse_map_file(text, "vm.map");
//
// A whole file in memory goes through parse_map_file; a file of any size goes through MapFile,
// which reads it twice with a bounded buffer (once to check every line, once to hand out the
// mappings), so `check` can answer a file of millions of lines in memory that does not grow
// with it, and still refuse a bad line before it has answered anything.
//
// Sharp edges: a size of 0 and a mapping that passes 2^64-1 parse fine: they are answers of
// `check` (the kernel refuses both with EINVAL), not syntax errors. A line may be at most
// kMaxMapLineBytes long.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/range.h"
#include "iovamap/result.h"

namespace iovamap {

struct PlannedMapping {
  uint64_t iova = 0;
  u128 size = 0;    // 0 to 2^64
  size_t line = 0;  // 1-based line in the file
};

// The longest line a map file may have (comments included).
inline constexpr size_t kMaxMapLineBytes = 4096;

// Parses a map file; errors are "FILE:LINE: ...".
Result<std::vector<PlannedMapping>> parse_map_file(std::string_view text,
                                                   const std::string& file_name);

// One line of a map file (without its newline): a mapping, or nullopt for a blank or comment
// line. Errors are "FILE:LINE: ...".
Result<std::optional<PlannedMapping>> parse_map_line(std::string_view line,
                                                     const std::string& file_name,
                                                     size_t line_number);

// A map file read in two passes with bounded memory.
//
//   Result<MapFile> m = MapFile::open("vm.map");           // or MapFile::from_fd(0, "<stdin>")
//   IOVAMAP_ASSIGN_OR_RETURN(size_t n, m->validate());    // every line checked, nothing kept
//   m->for_each([&](const PlannedMapping& p) { ...; return Status(); });
//
// A regular file is read where it is; anything else (a pipe) is copied to an unnamed temporary
// file during validate(), so both passes read the same bytes. At most kMaxMapFileBytes
// (input_file.h) are read.
class MapFile {
 public:
  // The regular file at `path` (not a FIFO, device or directory: EINVAL, EISDIR).
  static Result<MapFile> open(const std::string& path);
  // What `fd` holds from its current position (stdin); `fd` is not closed. A closed
  // descriptor is EBADF; a device other than a terminal or /dev/null is refused.
  static Result<MapFile> from_fd(int fd, const std::string& name);

  // Reads every line and checks its syntax; returns how many mappings there are. Errors name
  // the file and line; a line longer than kMaxMapLineBytes or a file past the cap is an error.
  Result<size_t> validate();
  // After validate(): calls `each` on every mapping in order, stopping at its first error.
  Status for_each(const std::function<Status(const PlannedMapping&)>& each);

  MapFile(MapFile&&) noexcept;
  MapFile& operator=(MapFile&&) noexcept;
  ~MapFile();

 private:
  MapFile(int fd, bool owned, std::string name);
  // Reads every line from the start of `fd_` (spilling to `spill` when given), calling `line`.
  Status read_lines(int spill, const std::function<Status(std::string_view, size_t)>& line);

  int fd_ = -1;
  bool owned_ = false;     // close fd_ when done (an opened file, or the spill file)
  bool seekable_ = false;  // fd_ can be read again from `start_`
  long long start_ = 0;    // where the content starts in fd_
  bool validated_ = false;
  std::string name_;
};

}  // namespace iovamap
