// Snapshots: capturing what discovery reads from a host into a directory that `--root` reads.
//
// A snapshot is a directory mirroring the real paths below it (DIR/sys/kernel/iommu_groups/...,
// DIR/proc/sys/kernel/osrelease), holding exactly the files discovery read (verbatim), the
// links it read (as symlinks with sysfs's own link text), the directories it listed, the ACPI
// tables that describe IOMMUs (DMAR, IVRS, IORT, VIOT) when readable, /proc/cmdline, and a
// manifest (DIR/manifest.json: what was captured, from where, when, and what could not be).
// Anyone can also make one with cp -a or tar; iovamap reads both the same way.
//
// Example:
//   auto live = open_root_reader("/");
//   Result<SnapshotReport> r = capture_snapshot(**live, "/tmp/host-snap");
//
// Sharp edges:
//   - Atomic: the snapshot is written to a hidden sibling directory and renamed into place
//     (renameat2 RENAME_NOREPLACE); on any failure nothing is left behind. DIR must not exist.
//   - ACPI tables are readable by root only; without root they are skipped with a warning in
//     the report and the manifest.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "iovamap/result.h"
#include "iovamap/sysfs_reader.h"

namespace iovamap {

// A reader that forwards every call to `inner` and remembers what succeeded.
class RecordingReader : public SysfsReader {
 public:
  explicit RecordingReader(SysfsReader& inner) : inner_(inner) {}

  Result<std::string> read_file(std::string_view path) override;
  Result<std::string> read_link(std::string_view path) override;
  Result<std::vector<std::string>> list_dir(std::string_view path) override;
  std::string display(std::string_view path) const override { return inner_.display(path); }

  // Root-relative path -> content, link text, directory entries.
  const std::map<std::string, std::string>& files() const { return files_; }
  const std::map<std::string, std::string>& links() const { return links_; }
  const std::map<std::string, std::vector<std::string>>& dirs() const { return dirs_; }

 private:
  SysfsReader& inner_;
  std::map<std::string, std::string> files_;
  std::map<std::string, std::string> links_;
  std::map<std::string, std::vector<std::string>> dirs_;
};

struct SnapshotReport {
  std::string dir;
  size_t files = 0;
  size_t links = 0;
  size_t dirs = 0;
  std::vector<std::string> warnings;  // what could not be captured, and discovery's warnings
};

// Captures the host below `source`'s root into the new directory `dir`. Fails (leaving
// nothing) when discovery fails, `dir` exists, or writing fails.
Result<SnapshotReport> capture_snapshot(SysfsReader& source, const std::string& dir);

}  // namespace iovamap
