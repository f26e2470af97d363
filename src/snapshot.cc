#include "iovamap/snapshot.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "iovamap/discovery.h"
#include "path_resolve.h"
#include "unique_fd.h"

namespace iovamap {

namespace fs = std::filesystem;

Result<std::string> RecordingReader::read_file(std::string_view path) {
  Result<std::string> r = inner_.read_file(path);
  if (r) files_[std::string(detail::relative(path))] = *r;
  return r;
}

Result<std::string> RecordingReader::read_link(std::string_view path) {
  Result<std::string> r = inner_.read_link(path);
  if (r) links_[std::string(detail::relative(path))] = *r;
  return r;
}

Result<std::vector<std::string>> RecordingReader::list_dir(std::string_view path) {
  Result<std::vector<std::string>> r = inner_.list_dir(path);
  if (r) dirs_[std::string(detail::relative(path))] = *r;
  return r;
}

namespace {

// The extra files a snapshot keeps besides what discovery reads: the firmware tables that
// describe IOMMUs and their reserved regions, and the kernel command line (iommu= options).
constexpr const char* kExtraFiles[] = {
    "sys/firmware/acpi/tables/DMAR", "sys/firmware/acpi/tables/IVRS",
    "sys/firmware/acpi/tables/IORT", "sys/firmware/acpi/tables/VIOT", "proc/cmdline"};

// A recorded path is safe to create below the snapshot directory: relative, with no empty,
// "." or ".." component.
bool safe_path(std::string_view path) {
  if (path.empty() || path.front() == '/') return false;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return true;
}

Error io_error(const fs::path& p, const std::string& what) {
  return make_error(errno, p.string() + ": " + what + ": " + std::strerror(errno));
}

Status write_file(const fs::path& p, const std::string& content) {
  UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd) return io_error(p, "create");
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(p, "write");
    }
    done += static_cast<size_t>(n);
  }
  if (int e = fd.close()) {
    errno = e;
    return io_error(p, "close");
  }
  return {};
}

Status make_dirs(const fs::path& p) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec) return make_error(ec.value(), p.string() + ": mkdir: " + ec.message());
  return {};
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Writes everything recorded below `tmp`: directories, then files, then links last (so that no
// write can pass through a link the snapshot itself holds).
Status write_tree(const RecordingReader& rec, const fs::path& tmp, SnapshotReport* report,
                  nlohmann::json* entries) {
  std::set<std::string> link_paths;
  for (const auto& [path, text] : rec.links()) link_paths.insert(path);
  auto under_link = [&](const std::string& path) {
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1))
      if (link_paths.count(path.substr(0, slash))) return true;
    return false;
  };
  for (const auto& [path, names] : rec.dirs()) {
    if (path.empty()) continue;  // the root itself
    if (!safe_path(path) || under_link(path) || link_paths.count(path)) {
      report->warnings.push_back(path + ": listed through a link, not captured as a directory");
      continue;
    }
    IOVAMAP_RETURN_IF_ERROR(make_dirs(tmp / path));
    entries->push_back({{"path", path}, {"kind", "dir"}});
    ++report->dirs;
  }
  for (const auto& [path, content] : rec.files()) {
    if (!safe_path(path) || under_link(path)) {
      report->warnings.push_back(path + ": read through a link, not captured");
      continue;
    }
    fs::path p = tmp / path;
    IOVAMAP_RETURN_IF_ERROR(make_dirs(p.parent_path()));
    IOVAMAP_RETURN_IF_ERROR(write_file(p, content));
    entries->push_back({{"path", path}, {"kind", "file"}, {"bytes", content.size()}});
    ++report->files;
  }
  for (const auto& [path, text] : rec.links()) {
    if (!safe_path(path) || under_link(path)) {
      report->warnings.push_back(path + ": read through a link, not captured");
      continue;
    }
    fs::path p = tmp / path;
    IOVAMAP_RETURN_IF_ERROR(make_dirs(p.parent_path()));
    if (::symlink(text.c_str(), p.c_str()) != 0) return io_error(p, "symlink");
    entries->push_back({{"path", path}, {"kind", "link"}, {"target", text}});
    ++report->links;
  }
  return {};
}

}  // namespace

Result<SnapshotReport> capture_snapshot(SysfsReader& source, const std::string& dir) {
  SnapshotReport report;
  report.dir = dir;
  fs::path target = fs::absolute(fs::path(dir)).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();
  std::error_code ec;
  if (fs::exists(fs::symlink_status(target, ec)))
    return make_error(EEXIST, dir + ": exists (a snapshot goes into a new directory)");

  RecordingReader rec(source);
  Result<Discovery> found = discover(rec, "snapshot source " + source.display(""));
  if (!found) return found.error().with_context("snapshot of " + source.display(""));
  report.warnings = found->warnings;
  for (const char* extra : kExtraFiles) {
    Result<std::string> r = rec.read_file(extra);
    if (!r && r.error().code != ENOENT) report.warnings.push_back(r.error().message);
  }

  std::string tmpl =
      (target.parent_path() / ("." + target.filename().string() + ".partial-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    return make_error(errno, tmpl + ": cannot create: " + std::strerror(errno));
  fs::path tmp = tmpl;
  auto fail = [&](const Error& e) -> Result<SnapshotReport> {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    return e;
  };
  ::chmod(tmp.c_str(), 0755);  // mkdtemp makes it 0700

  nlohmann::json entries = nlohmann::json::array();
  if (Status s = write_tree(rec, tmp, &report, &entries); !s) return fail(s.error());
  nlohmann::json manifest = {
      {"format", "iovamap-snapshot"},
      {"version", 1},
      {"created", utc_now()},
      {"source", source.display("")},
      {"kernel", found->host.kernel.to_string()},
      {"groups", found->host.groups.size()},
      {"warnings", report.warnings},
      {"entries", entries},
  };
  if (Status s = write_file(tmp / "manifest.json", manifest.dump(2) + "\n"); !s)
    return fail(s.error());
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
    int saved = errno;
    Result<SnapshotReport> r = fail(
        make_error(saved, dir + ": cannot move the snapshot into place: " + std::strerror(saved)));
    return r;
  }
  return report;
}

}  // namespace iovamap
