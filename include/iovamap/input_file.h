// Reading the files a user names (a topology, a map file, stdin): bounded, regular files only.
//
// Every file iovamap reads on the user's behalf goes through here (files below a --root go
// through SysfsReader, which applies the same rules inside the root). A path that is not a
// regular file (a FIFO that would block, a device such as /dev/zero that never ends, a
// directory) is refused before anything is read, and a file longer than the cap is refused
// once the cap is passed, so no input can hang iovamap or exhaust its memory.
//
// Example:
//   Result<std::string> text = read_input_file("vm.toml", kMaxTopologyBytes);
//   if (!text) return text.error();   // "vm.toml: not a regular file (a FIFO)"
//
// Sharp edges:
//   - `read_input_fd` reads an already open descriptor (stdin): a pipe is accepted there (the
//     user chose it), a terminal too; the cap still holds. A closed descriptor is an error.
//   - Errors are ErrorKind::kInput and name the file as the user wrote it.
#pragma once

#include <cstddef>
#include <string>

#include "iovamap/result.h"

namespace iovamap {

// The caps, stated where users look for them (docs/design.md repeats them).
inline constexpr size_t kMaxTopologyBytes = size_t{64} << 20;   // 64 MiB: ~1M groups
inline constexpr size_t kMaxMapFileBytes = size_t{1} << 30;     // 1 GiB: ~40M mappings
inline constexpr size_t kMaxAcpiTableBytes = size_t{16} << 20;  // 16 MiB: a topology's ACPI table

// The whole content of the regular file at `path`, at most `max_bytes`. Errors: ENOENT and the
// other open(2) errors, EINVAL for a file that is not regular (naming its kind), EISDIR for a
// directory, EFBIG past the cap.
Result<std::string> read_input_file(const std::string& path, size_t max_bytes);

// The whole content readable from `fd` (not closed here), at most `max_bytes`; `name` names it
// in errors ("<stdin>"). Regular files, pipes, sockets and terminals are read; a directory or a
// device other than a terminal or /dev/null is refused (EINVAL), a closed descriptor is EBADF.
Result<std::string> read_input_fd(int fd, const std::string& name, size_t max_bytes);

}  // namespace iovamap
