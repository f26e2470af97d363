#include "iovamap/snapshot.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "iovamap/discovery.h"
#include "iovamap/firmware.h"
#include "iovamap/firmware_dma_limit.h"
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
// describe IOMMUs and their reserved regions, the kernel command line (iommu= options), and
// the CPU's physical address bits (vm-check: vm_host.h read_host_cpu).
constexpr const char* kExtraFiles[] = {"sys/firmware/acpi/tables/DMAR",
                                       "sys/firmware/acpi/tables/IVRS",
                                       "sys/firmware/acpi/tables/IORT",
                                       "sys/firmware/acpi/tables/VIOT",
                                       "proc/cmdline",
                                       "proc/cpuinfo"};

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

// ---- stale working directories ----------------------------------------------------------------
//
// A snapshot is written into a hidden sibling ".NAME.partial-PID-START-XXXXXX" and renamed into
// place. PID and START (the process's start time in clock ticks since boot, /proc/PID/stat
// field 22) name the owner, so that a later snapshot can prove a leftover dead: no process PID,
// or one that started at another time. A killed snapshot's leftover is removed by the next one
// in the same directory.

// This process's start time, or 0 when /proc does not say.
unsigned long long start_time_of(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return 0;
  Result<std::string> stat = read_to_end(fd.get(), 4096);
  if (!stat) return 0;
  // The command name (field 2) is in parentheses and may hold spaces: count from its end.
  size_t close = stat->rfind(')');
  if (close == std::string::npos) return 0;
  std::string_view rest = std::string_view(*stat).substr(close + 1);
  int field = 2;
  size_t at = 0;
  while (field < 22) {
    at = rest.find(' ', at);
    if (at == std::string_view::npos) return 0;
    ++at;
    ++field;
  }
  unsigned long long value = 0;
  std::from_chars(rest.data() + at, rest.data() + rest.size(), value);
  return value;
}

// Whether `name` is a working directory of ours whose owner is gone, for certain.
bool stale_partial(const std::string& name) {
  static constexpr std::string_view kMark = ".partial-";
  size_t mark = name.rfind(kMark);
  if (name.empty() || name[0] != '.' || mark == std::string::npos) return false;
  std::string_view tail = std::string_view(name).substr(mark + kMark.size());
  unsigned long long pid = 0, start = 0;
  auto [p1, e1] = std::from_chars(tail.data(), tail.data() + tail.size(), pid);
  if (e1 != std::errc() || p1 == tail.data() + tail.size() || *p1 != '-') return false;
  auto [p2, e2] = std::from_chars(p1 + 1, tail.data() + tail.size(), start);
  if (e2 != std::errc() || p2 == tail.data() + tail.size() || *p2 != '-') return false;
  if (tail.data() + tail.size() - (p2 + 1) != 6 || pid == 0 || pid > INT32_MAX) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return true;  // no such process
  unsigned long long now = start_time_of(static_cast<pid_t>(pid));
  return now != 0 && now != start;  // the number was reused by another process
}

// Removes the dead working directories of earlier snapshots in `parent`; says which.
void remove_stale_partials(const fs::path& parent, std::vector<std::string>* warnings) {
  std::error_code ec;
  for (fs::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!it->is_directory(ec) || it->is_symlink(ec) || !stale_partial(name)) continue;
    std::error_code removed;
    fs::remove_all(it->path(), removed);
    if (!removed)
      warnings->push_back(it->path().string() +
                          ": removed, the working directory of a snapshot that did not finish");
  }
}

// The manifest as text. Paths and texts from the host are data: a byte that is not UTF-8
// becomes U+FFFD rather than failing (the files themselves keep their names).
std::string manifest_text(const nlohmann::json& manifest) {
  return manifest.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

Result<SnapshotReport> capture_snapshot(SysfsReader& source, const std::string& dir) {
  SnapshotReport report;
  report.dir = dir;
  if (dir.empty())
    return make_error(EINVAL, "an empty directory name (a snapshot needs a new one)");
  std::error_code ec;
  fs::path target = fs::absolute(fs::path(dir), ec).lexically_normal();
  if (ec)
    return make_error(ec.value(), dir + ": cannot tell where it is: " + ec.message() +
                                      " (was the current directory removed?)");
  if (target.filename().empty()) target = target.parent_path();
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
  // Each PCI device's BARs (vm-check: vm_host.h read_device_bars): its sys/bus/pci/devices
  // link, through which vm-check reads it, and the file in the device's canonical directory
  // (a file read through a link is not captured).
  for (const Group& g : found->host.groups)
    for (const Device& d : g.devices) {
      if (!d.is_pci || d.sysfs_path.empty()) continue;
      Result<std::string> link = rec.read_link("sys/bus/pci/devices/" + d.name);
      if (!link && link.error().code != ENOENT) report.warnings.push_back(link.error().message);
      Result<std::string> r = rec.read_file(d.sysfs_path + "/resource");
      if (!r && r.error().code != ENOENT) report.warnings.push_back(r.error().message);
    }
  // The device tree's dma-ranges and cell counts are recorded by reading them; a table or
  // property that does not parse is still captured as it is, with a warning.
  if (Result<Firmware> fw = read_firmware(rec); !fw) {
    report.warnings.push_back(fw.error().message);
  } else {
    // The firmware nodes of the devices (of_node links, ACPI paths) that firmware DMA limits
    // are matched by, recorded by reading them.
    found->host.firmware = std::move(*fw);
    apply_firmware_dma_limits(found->host, rec);
  }

  remove_stale_partials(target.parent_path(), &report.warnings);
  std::string tmpl = (target.parent_path() /
                      ("." + target.filename().string() + ".partial-" + std::to_string(::getpid()) +
                       "-" + std::to_string(start_time_of(::getpid())) + "-XXXXXX"))
                         .string();
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
  // The manifest is complete before the directory takes its name.
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
  if (Status s = write_file(tmp / "manifest.json", manifest_text(manifest)); !s)
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
