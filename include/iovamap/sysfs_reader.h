// Root-relative, read-only access to sysfs and procfs files: the only way iovamap reads a host.
//
// Every path is relative to a root: "/" for the live host, a snapshot directory otherwise, so
// one code path reads both. A snapshot is untrusted input: whatever its symlinks say (absolute
// targets, "../../.." escapes, loops), reading never leaves the root. The real reader opens
// files with openat2(RESOLVE_IN_ROOT), which makes the kernel treat the root as "/" for every
// lookup; when openat2 is missing (kernels before 5.6, some sandboxes) it resolves paths itself
// with the same rules, one component at a time with O_NOFOLLOW.
//
// Link files: snapshots copied without preserving symlinks (cp without -a, some archivers,
// some upload paths) hold, in place of each symlink, a regular file whose content is the link
// text. The reader follows such a file as a symlink when a path goes through it, and
// `read_link` returns its content, so copied and real snapshots read the same.
//
// Example:
//   Result<std::unique_ptr<SysfsReader>> r = open_root_reader("/");
//   Result<std::string> type = (*r)->read_file("sys/kernel/iommu_groups/7/type");
//   Result<std::string> target = (*r)->read_link("sys/bus/pci/devices/0000:01:00.0/driver");
//
// Sharp edges:
//   - Paths are root-relative ("sys/...", no leading slash needed; one is ignored).
//   - `read_file` refuses anything but a regular file (FIFOs, devices, sockets: EINVAL) and
//     files longer than `kMaxFileBytes` (EFBIG): a hostile snapshot cannot hang or exhaust us.
//   - Errors name the file as the user sees it: "<root>/<path>: <reason>".
//   - A reader is not thread-safe; use one per thread.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/result.h"

namespace iovamap {

// The longest file `read_file` returns (ACPI tables on big servers stay far below this).
inline constexpr size_t kMaxFileBytes = size_t{4} << 20;
// The longest link text, and the most links followed while resolving one path.
inline constexpr size_t kMaxLinkBytes = 4095;
inline constexpr int kMaxLinkHops = 40;

class SysfsReader {
 public:
  virtual ~SysfsReader() = default;

  // The whole content of the regular file at `path` (links followed, inside the root).
  // ENOENT when it does not exist, EINVAL when it is not a regular file, EFBIG when larger
  // than kMaxFileBytes.
  virtual Result<std::string> read_file(std::string_view path) = 0;

  // The text of the link at `path` (a symlink, or a link file: see the file comment), exactly
  // as stored; links in the directories above it are followed. EINVAL when `path` is neither.
  virtual Result<std::string> read_link(std::string_view path) = 0;

  // The names in the directory at `path`, sorted bytewise, without "." and "..".
  virtual Result<std::vector<std::string>> list_dir(std::string_view path) = 0;

  // `path` as a user should see it in a message: "/sys/..." on the live host,
  // "SNAPSHOT/sys/..." for a snapshot.
  virtual std::string display(std::string_view path) const = 0;
};

// A reader for the directory `root` ("/" for the live host). ENOENT/ENOTDIR when `root` is
// not a directory.
Result<std::unique_ptr<SysfsReader>> open_root_reader(const std::string& root);

// The root-relative path that link text `target`, stored in the link at `link_path`, points
// to, computed on the text alone: relative targets start from the link's directory, absolute
// ones from the root, "." is dropped and ".." stops at the root. Never leaves the root.
// Example: resolve_link_text("sys/bus/pci/devices/0000:01:00.0", "../../../devices/pci0000:00")
//          == "sys/devices/pci0000:00".
std::string resolve_link_text(std::string_view link_path, std::string_view target);

// A sysfs value without the one newline the kernel prints after it: "DMA-FQ\n" -> "DMA-FQ".
std::string_view strip_newline(std::string_view text);

// The last component of a link text or path: "../../bus/pci/drivers/e1000e" -> "e1000e".
std::string_view base_name(std::string_view path);

// An in-memory reader for tests and fuzzing. Paths are root-relative; directories exist
// implicitly above every entry and can be added empty. Link entries resolve like symlinks
// (and regular files in the middle of a path like link files), with the real reader's rules.
class FakeSysfs : public SysfsReader {
 public:
  explicit FakeSysfs(std::string name = "fake") : name_(std::move(name)) {}

  void add_file(std::string_view path, std::string content);
  void add_link(std::string_view path, std::string target);
  void add_dir(std::string_view path);
  // A special file (FIFO, device): reading it fails as the real reader does.
  void add_special(std::string_view path);

  Result<std::string> read_file(std::string_view path) override;
  Result<std::string> read_link(std::string_view path) override;
  Result<std::vector<std::string>> list_dir(std::string_view path) override;
  std::string display(std::string_view path) const override;

  // How many read_file/read_link/list_dir calls were made (for tests of caching and cost).
  size_t calls() const { return calls_; }

 private:
  enum class Kind { kFile, kLink, kDir, kSpecial };
  struct Node {
    Kind kind = Kind::kDir;
    std::string data;  // file content or link text
  };
  void add(std::string_view path, Node node);
  // Resolves `path`; `follow_final` follows a final symlink, `final_link_file` also treats a
  // final regular file as a link file. Returns the canonical path.
  Result<std::string> resolve(std::string_view path, bool follow_final, bool final_link_file);

  std::string name_;
  std::map<std::string, Node, std::less<>> nodes_;
  size_t calls_ = 0;
};

}  // namespace iovamap
