#include "iovamap/sysfs_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>

#include "path_resolve.h"
#include "unique_fd.h"

namespace iovamap {
namespace detail {

std::string_view relative(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  return path;
}

namespace {

// Splits `text` at '/' into non-empty components, in order.
std::deque<std::string> split_components(std::string_view text) {
  std::deque<std::string> out;
  while (!text.empty()) {
    size_t slash = text.find('/');
    std::string_view part = text.substr(0, slash);
    if (!part.empty()) out.emplace_back(part);
    if (slash == std::string_view::npos) break;
    text.remove_prefix(slash + 1);
  }
  return out;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

}  // namespace

Result<std::string> link_file_text(std::string content) {
  if (!content.empty() && content.back() == '\n') content.pop_back();
  if (content.empty()) return make_error(EINVAL, "empty link file");
  if (content.size() > kMaxLinkBytes) return make_error(ENAMETOOLONG, "link text too long");
  if (content.find('\0') != std::string::npos || content.find('\n') != std::string::npos)
    return make_error(EINVAL, "not a link file (binary or multi-line content)");
  return content;
}

Result<std::string> resolve_path(std::string_view path, bool follow_final, bool final_link_file,
                                 const ResolveOps& ops) {
  std::deque<std::string> pending = split_components(path);
  std::vector<std::string> done;  // canonical components so far: never holds a link
  int hops = 0;
  while (!pending.empty()) {
    std::string part = std::move(pending.front());
    pending.pop_front();
    if (part == ".") continue;
    if (part == "..") {
      if (!done.empty()) done.pop_back();  // ".." at the root stays at the root
      continue;
    }
    done.push_back(part);
    std::string candidate = join(done);
    bool is_final = pending.empty();
    IOVAMAP_ASSIGN_OR_RETURN(EntryKind kind, ops.kind(candidate));
    if (kind == EntryKind::kMissing) return make_error(ENOENT, "'" + candidate + "' is missing");
    bool follow = (kind == EntryKind::kSymlink && (!is_final || follow_final)) ||
                  (kind == EntryKind::kFile && (!is_final || final_link_file));
    if (!follow) {
      if (!is_final && kind != EntryKind::kDir)
        return make_error(ENOTDIR, "'" + candidate + "' is not a directory");
      continue;
    }
    if (++hops > kMaxLinkHops)
      return make_error(ELOOP, "more than " + std::to_string(kMaxLinkHops) + " links");
    Result<std::string> text = ops.link_text(candidate, kind);
    if (!text) return text.error().with_context("'" + candidate + "'");
    done.pop_back();  // the link itself is replaced by its target
    if (!text->empty() && text->front() == '/') done.clear();
    std::deque<std::string> target = split_components(*text);
    pending.insert(pending.begin(), target.begin(), target.end());
  }
  return join(done);
}

}  // namespace detail

using detail::EntryKind;

std::string resolve_link_text(std::string_view link_path, std::string_view target) {
  std::string combined;
  if (target.empty() || target.front() != '/') {
    link_path = detail::relative(link_path);
    size_t slash = link_path.rfind('/');
    if (slash != std::string_view::npos) combined = std::string(link_path.substr(0, slash)) + "/";
  }
  combined += target;
  // Lexical resolution: nothing is a link.
  detail::ResolveOps lexical{
      [](const std::string&) -> Result<EntryKind> { return EntryKind::kDir; },
      [](const std::string&, EntryKind) -> Result<std::string> { return std::string(); }};
  Result<std::string> out = detail::resolve_path(combined, false, false, lexical);
  return out ? *out : std::string();
}

std::string_view strip_newline(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  return text;
}

std::string_view base_name(std::string_view path) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

namespace {

// The reader of a real directory tree. Holds an O_PATH descriptor of the root.
class RootReader : public SysfsReader {
 public:
  RootReader(UniqueFd root_fd, std::string root)
      : root_fd_(std::move(root_fd)), root_(std::move(root)) {
    ops_.kind = [this](const std::string& p) { return kind_of(p); };
    ops_.link_text = [this](const std::string& p, EntryKind k) { return link_text_of(p, k); };
  }
  RootReader(const RootReader&) = delete;
  RootReader& operator=(const RootReader&) = delete;

  Result<std::string> read_file(std::string_view path) override {
    std::string_view rel = detail::relative(path);
    Result<int> opened = open_following(rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, false);
    if (!opened) return opened.error().with_context(display(rel));
    UniqueFd fd(*opened);
    Result<std::string> content = read_fd(fd.get(), kMaxFileBytes);
    if (!content) return content.error().with_context(display(rel));
    return content;
  }

  Result<std::string> read_link(std::string_view path) override {
    std::string_view rel = detail::relative(path);
    // Resolve the directories (links there are followed), keep the last component as is.
    UniqueFd fd(open_in_root(rel, O_PATH | O_NOFOLLOW));
    std::string at(rel);
    if (!fd && errno == ENOTDIR) {
      size_t slash = rel.rfind('/');
      std::string parent(slash == std::string_view::npos ? "" : rel.substr(0, slash));
      Result<std::string> canon = detail::resolve_path(parent, true, true, ops_);
      if (!canon) return canon.error().with_context(display(rel));
      at = (canon->empty() ? "" : *canon + "/") + std::string(base_name(rel));
      fd.reset(open_in_root(at, O_PATH | O_NOFOLLOW));
    }
    if (!fd) return errno_error(rel);
    char buf[kMaxLinkBytes + 1];
    ssize_t n = ::readlinkat(fd.get(), "", buf, sizeof buf);
    int saved = errno;
    fd.reset();
    if (n >= 0) {
      if (static_cast<size_t>(n) > kMaxLinkBytes)
        return make_error(ENAMETOOLONG, display(rel) + ": link text too long");
      return std::string(buf, static_cast<size_t>(n));
    }
    if (saved != ENOENT && saved != EINVAL) {
      errno = saved;
      return errno_error(rel);
    }
    // Not a symlink: a link file?
    Result<std::string> text = link_text_of(at, EntryKind::kFile);
    if (!text) return text.error().with_context(display(rel));
    return text;
  }

  Result<std::vector<std::string>> list_dir(std::string_view path) override {
    std::string_view rel = detail::relative(path);
    Result<int> opened = open_following(rel, O_RDONLY | O_DIRECTORY, true);
    if (!opened) return opened.error().with_context(display(rel));
    UniqueFd fd(*opened);
    DIR* dir = ::fdopendir(fd.get());
    if (dir == nullptr) return errno_error(rel);
    fd.release();  // the DIR owns it now; closedir closes it
    std::vector<std::string> names;
    errno = 0;
    while (dirent* entry = ::readdir(dir)) {
      std::string_view name = entry->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    int saved = errno;
    ::closedir(dir);
    if (saved != 0) {
      errno = saved;
      return errno_error(rel);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string display(std::string_view path) const override {
    std::string_view rel = detail::relative(path);
    if (root_ == "/") return "/" + std::string(rel);
    return rel.empty() ? root_ : root_ + "/" + std::string(rel);
  }

 private:
  Error errno_error(std::string_view rel) const {
    return make_error(errno, display(rel) + ": " + std::strerror(errno));
  }

  // openat2 relative to the root with RESOLVE_IN_ROOT; falls back to openat with O_NOFOLLOW
  // on a path the caller made canonical when openat2 does not exist. Returns -1 with errno.
  int open_in_root(std::string_view rel, int flags) {
    std::string p = rel.empty() ? std::string(".") : std::string(rel);
    if (has_openat2_) {
      open_how how{};
      how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
      how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
      long fd = ::syscall(SYS_openat2, root_fd_.get(), p.c_str(), &how, sizeof how);
      if (fd >= 0 || errno != ENOSYS) return static_cast<int>(fd);
      has_openat2_ = false;  // seen once: never again
    }
    Result<std::string> canon = detail::resolve_path(rel, (flags & O_NOFOLLOW) == 0, false, ops_);
    if (!canon) {
      errno = canon.error().code;
      return -1;
    }
    std::string c = canon->empty() ? std::string(".") : *canon;
    return ::openat(root_fd_.get(), c.c_str(), flags | O_CLOEXEC | O_NOFOLLOW);
  }

  // Opens `rel` following every link (symlinks and, when the kernel's lookup stops at one,
  // link files; a final link file only when `final_link_file`).
  Result<int> open_following(std::string_view rel, int flags, bool final_link_file) {
    int fd = open_in_root(rel, flags);
    if (fd < 0 && errno == ENOTDIR) {  // a link file in the way
      IOVAMAP_ASSIGN_OR_RETURN(std::string canon,
                               detail::resolve_path(rel, true, final_link_file, ops_));
      fd = open_in_root(canon, flags);
    }
    if (fd < 0) return make_error(errno, std::strerror(errno));
    return fd;
  }

  // Reads a regular file to its end, at most `limit` bytes.
  static Result<std::string> read_fd(int fd, size_t limit) {
    struct stat st;
    if (::fstat(fd, &st) != 0) return make_error(errno, std::strerror(errno));
    if (S_ISDIR(st.st_mode)) return make_error(EISDIR, "is a directory");
    if (!S_ISREG(st.st_mode)) return make_error(EINVAL, "not a regular file");
    return read_to_end(fd, limit);
  }

  Result<EntryKind> kind_of(const std::string& canonical) {
    struct stat st;
    if (::fstatat(root_fd_.get(), canonical.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return EntryKind::kMissing;
      return make_error(errno, std::strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) return EntryKind::kDir;
    if (S_ISLNK(st.st_mode)) return EntryKind::kSymlink;
    if (S_ISREG(st.st_mode)) return EntryKind::kFile;
    return EntryKind::kOther;
  }

  Result<std::string> link_text_of(const std::string& canonical, EntryKind kind) {
    if (kind == EntryKind::kSymlink) {
      char buf[kMaxLinkBytes + 1];
      ssize_t n = ::readlinkat(root_fd_.get(), canonical.c_str(), buf, sizeof buf);
      if (n < 0) return make_error(errno, std::strerror(errno));
      if (static_cast<size_t>(n) > kMaxLinkBytes)
        return make_error(ENAMETOOLONG, "link text too long");
      return std::string(buf, static_cast<size_t>(n));
    }
    UniqueFd fd(::openat(root_fd_.get(), canonical.c_str(),
                         O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      if (errno == ELOOP) return make_error(EINVAL, "not a link");
      return make_error(errno, std::strerror(errno));
    }
    Result<std::string> content = read_fd(fd.get(), kMaxLinkBytes + 1);
    if (!content) {
      if (content.error().code == EFBIG) return make_error(EINVAL, "not a link file (too long)");
      return content.error();
    }
    return detail::link_file_text(std::move(*content));
  }

  UniqueFd root_fd_;
  std::string root_;
  bool has_openat2_ = true;
  detail::ResolveOps ops_;
};

}  // namespace

Result<std::unique_ptr<SysfsReader>> open_root_reader(const std::string& root) {
  UniqueFd fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return make_error(errno, root + ": " + std::strerror(errno));
  std::string shown = root;
  while (shown.size() > 1 && shown.back() == '/') shown.pop_back();
  return std::unique_ptr<SysfsReader>(new RootReader(std::move(fd), shown));
}

// ---- FakeSysfs ----

void FakeSysfs::add(std::string_view path, Node node) {
  std::string p(detail::relative(path));
  while (!p.empty() && p.back() == '/') p.pop_back();
  for (size_t slash = p.find('/'); slash != std::string::npos; slash = p.find('/', slash + 1))
    nodes_.try_emplace(p.substr(0, slash), Node{Kind::kDir, {}});
  nodes_[p] = std::move(node);
}

void FakeSysfs::add_file(std::string_view path, std::string content) {
  add(path, Node{Kind::kFile, std::move(content)});
}
void FakeSysfs::add_link(std::string_view path, std::string target) {
  add(path, Node{Kind::kLink, std::move(target)});
}
void FakeSysfs::add_dir(std::string_view path) {
  add(path, Node{Kind::kDir, {}});
}
void FakeSysfs::add_special(std::string_view path) {
  add(path, Node{Kind::kSpecial, {}});
}

Result<std::string> FakeSysfs::resolve(std::string_view path, bool follow_final,
                                       bool final_link_file) {
  detail::ResolveOps ops;
  ops.kind = [this](const std::string& p) -> Result<EntryKind> {
    if (p.empty()) return EntryKind::kDir;
    auto it = nodes_.find(p);
    if (it == nodes_.end()) return EntryKind::kMissing;
    switch (it->second.kind) {
      case Kind::kFile:
        return EntryKind::kFile;
      case Kind::kLink:
        return EntryKind::kSymlink;
      case Kind::kDir:
        return EntryKind::kDir;
      case Kind::kSpecial:
        return EntryKind::kOther;
    }
    return EntryKind::kOther;
  };
  ops.link_text = [this](const std::string& p, EntryKind kind) -> Result<std::string> {
    const Node& node = nodes_.find(p)->second;
    if (kind == EntryKind::kSymlink) return node.data;
    if (node.data.size() > kMaxLinkBytes + 1)
      return make_error(EINVAL, "not a link file (too long)");
    return detail::link_file_text(node.data);
  };
  Result<std::string> canon = detail::resolve_path(path, follow_final, final_link_file, ops);
  if (!canon) return canon.error().with_context(display(path));
  return canon;
}

Result<std::string> FakeSysfs::read_file(std::string_view path) {
  ++calls_;
  IOVAMAP_ASSIGN_OR_RETURN(std::string canon, resolve(path, true, false));
  auto it = nodes_.find(canon);
  if (canon.empty() || it->second.kind == Kind::kDir)
    return make_error(EISDIR, display(path) + ": is a directory");
  if (it->second.kind != Kind::kFile)
    return make_error(EINVAL, display(path) + ": not a regular file");
  if (it->second.data.size() > kMaxFileBytes)
    return make_error(EFBIG,
                      display(path) + ": larger than " + std::to_string(kMaxFileBytes) + " bytes");
  return it->second.data;
}

Result<std::string> FakeSysfs::read_link(std::string_view path) {
  ++calls_;
  std::string_view rel = detail::relative(path);
  size_t slash = rel.rfind('/');
  IOVAMAP_ASSIGN_OR_RETURN(
      std::string parent,
      resolve(slash == std::string_view::npos ? "" : rel.substr(0, slash), true, true));
  std::string at = (parent.empty() ? "" : parent + "/") + std::string(base_name(rel));
  auto it = nodes_.find(at);
  if (it == nodes_.end()) return make_error(ENOENT, display(path) + ": is missing");
  if (it->second.kind == Kind::kLink) return it->second.data;
  if (it->second.kind == Kind::kFile && it->second.data.size() <= kMaxLinkBytes + 1) {
    Result<std::string> text = detail::link_file_text(it->second.data);
    if (!text) return text.error().with_context(display(path));
    return text;
  }
  return make_error(EINVAL, display(path) + ": not a link");
}

Result<std::vector<std::string>> FakeSysfs::list_dir(std::string_view path) {
  ++calls_;
  IOVAMAP_ASSIGN_OR_RETURN(std::string canon, resolve(path, true, true));
  if (!canon.empty() && nodes_.find(canon)->second.kind != Kind::kDir)
    return make_error(ENOTDIR, display(path) + ": not a directory");
  std::string prefix = canon.empty() ? "" : canon + "/";
  std::vector<std::string> names;
  for (auto it = nodes_.lower_bound(prefix); it != nodes_.end(); ++it) {
    std::string_view key = it->first;
    if (key.substr(0, prefix.size()) != prefix) break;
    std::string_view rest = key.substr(prefix.size());
    if (!rest.empty() && rest.find('/') == std::string_view::npos) names.emplace_back(rest);
  }
  return names;  // the map's order is bytewise
}

std::string FakeSysfs::display(std::string_view path) const {
  return name_ + "/" + std::string(detail::relative(path));
}

}  // namespace iovamap
