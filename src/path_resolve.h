// Private: the path resolution shared by the real and the fake SysfsReader.
//
// Resolves a root-relative path one component at a time, following symlinks and link files
// (regular files holding link text, see sysfs_reader.h) as the kernel's RESOLVE_IN_ROOT would:
// "/" in a link text and ".." at the top both mean the root, so the result never leaves it.
// The caller supplies how to look at one entry whose directories are already resolved.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "iovamap/result.h"

namespace iovamap::detail {

enum class EntryKind { kMissing, kDir, kSymlink, kFile, kOther };

struct ResolveOps {
  // The kind of the entry at canonical path `path` (its parents hold no links), not following
  // a final symlink.
  std::function<Result<EntryKind>(const std::string& path)> kind;
  // The link text of the symlink or link file at canonical path `path`.
  std::function<Result<std::string>(const std::string& path, EntryKind kind)> link_text;
};

// The canonical root-relative path of `path` ("" is the root). Links in the directories are
// always followed; a final symlink when `follow_final`; a final regular file (as a link file)
// when `final_link_file`. ENOENT for a missing component, ENOTDIR when a non-directory is in
// the middle, ELOOP after kMaxLinkHops links. Error messages are the bare reason; the caller
// adds the path.
Result<std::string> resolve_path(std::string_view path, bool follow_final, bool final_link_file,
                                 const ResolveOps& ops);

// Checks the content of a link file and returns its link text (one trailing newline dropped).
// EINVAL when it cannot be a link text: empty, too long, or holding NUL or another newline.
Result<std::string> link_file_text(std::string content);

// `path` with a leading "/" dropped (root-relative).
std::string_view relative(std::string_view path);

}  // namespace iovamap::detail
