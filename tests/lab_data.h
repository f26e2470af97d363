// Helpers for the tests that read the QEMU lab's captures (tests/lab_*_test.cc).
//
// A lab directory holds root/ (a sysfs snapshot) and expected/ (the kernel's answers); see
// tests/lab/README.md. `lab_dirs()` lists the kept fixtures tests/data/lab-<config>/, or, when
// IOVAMAP_LAB_RESULTS names a directory (one sub-directory per configuration, as
// tests/lab/run.sh leaves them), those, so the same checks judge a fresh lab run.
//
// Example:
//   for (const auto& dir : lab_dirs()) EXPECT_FALSE(slurp(dir / "expected/vfio_groups").empty());
//
// Sharp edge: a missing file reads as "" (the test's own comparison then fails and names it).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace iovamap::lab {

namespace fs = std::filesystem;

// The whole file, "" when it cannot be read.
inline std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Whether the lab directories are a fresh run's (IOVAMAP_LAB_RESULTS), which may hold any
// subset of the configurations, rather than the kept fixtures, which hold them all.
inline bool fresh_results() {
  const char* live = std::getenv("IOVAMAP_LAB_RESULTS");
  return live && *live;
}

// The lab directories to check, sorted (see the file comment).
inline std::vector<fs::path> lab_dirs() {
  std::vector<fs::path> out;
  const char* live = std::getenv("IOVAMAP_LAB_RESULTS");
  bool fresh = live && *live;
  fs::path base = fresh ? fs::path(live) : fs::path(IOVAMAP_TEST_DATA);
  for (const auto& e : fs::directory_iterator(base)) {
    std::string name = e.path().filename().string();
    bool lab = fresh ? fs::exists(e.path() / "expected") : name.rfind("lab-", 0) == 0;
    if (e.is_directory() && lab) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Whether the fixture's PCI host bridge preserves the boot configuration (its DSDT's _DSM
// function 5), which iovamap cannot evaluate: true for the IORT RMR configurations, whose DSDT
// tests/lab/acpi_tables.py made say so; unknown for every other (QEMU 7.2's has no such
// function, and no other configuration has an RMR that would depend on it).
inline std::optional<bool> pci_boot_config_preserved(const fs::path& dir) {
  const std::string name = dir.filename().string();
  if (name.rfind("smmuv3acpirmr-", 0) == 0 || name.rfind("lab-smmuv3acpirmr-", 0) == 0) return true;
  return std::nullopt;
}

// An attach verdict as lab_probe writes it ("OK", "EPERM", "EINVAL"); any other errno is
// spelled so that it cannot match.
inline std::string verdict(int e) {
  return e == 0        ? "OK"
         : e == EPERM  ? "EPERM"
         : e == EINVAL ? "EINVAL"
                       : "errno " + std::to_string(e);
}

// expected/attach.<g>: "type1 EPERM\niommufd EPERM\n" -> {type1: EPERM, iommufd: EPERM}.
inline std::map<std::string, std::string> verdicts(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string who, what;
  while (in >> who >> what) out[who] = what;
  return out;
}

// Bytes written as whitespace-separated hex pairs (expected/get_info.*).
inline std::vector<uint8_t> hex_bytes(const std::string& text) {
  std::vector<uint8_t> out;
  std::istringstream in(text);
  std::string byte;
  while (in >> byte) out.push_back(static_cast<uint8_t>(std::stoul(byte, nullptr, 16)));
  return out;
}

}  // namespace iovamap::lab
