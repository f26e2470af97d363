// How the cost of each input grows with its size (issue 13): a reserved_regions list, a map
// file and a topology, at 10k, 100k and 1M entries, each through the path a user's input takes.
// For n log n growth, ten times the entries cost about 11-12x the time (10 x log(10n)/log(n));
// quadratic growth would cost 100x. The last lines print the measured ratios.
//
//   regions   parse_sysfs_regions of n lines -> explain_observed_regions -> describe_container
//             (kernel policy, type1): the RegionList insertion, type1's cuts, the range stops;
//   map       the tool's `check` over a map file of n lines (half of them fail: a bad size, an
//             overlap, outside the aperture), text output to memory: MapFile's two passes,
//             MAP_DMA, the reasons, the nearest placement;
//   map, holes  the same with the nearest-placement worst case (see run_holes);
//   topology  the tool's `--topology FILE list --format json` with n groups of one device.
//
// Usage: scale_bench [--max N] (default 1000000); each size runs once, the times are wall
// clock of that one run (the work is seconds, not microseconds).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "iovamap/container.h"
#include "iovamap/policy.h"
#include "iovamap/region.h"
#include "test_tree.h"
#include "tool.h"

using namespace iovamap;
namespace fs = std::filesystem;

namespace {

double seconds(const std::function<void()>& work) {
  auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void die(const std::string& why) {
  std::fprintf(stderr, "scale_bench: %s\n", why.c_str());
  std::exit(1);
}

// n disjoint 4 KiB regions with 4 KiB gaps above 4 GiB, in sysfs's format.
std::string regions_text(size_t n) {
  std::string out;
  out.reserve(n * 52);
  char line[64];
  for (size_t i = 0; i < n; ++i) {
    uint64_t start = (uint64_t{1} << 32) + i * 0x2000;
    std::snprintf(line, sizeof line, "0x%016llx 0x%016llx reserved\n",
                  static_cast<unsigned long long>(start),
                  static_cast<unsigned long long>(start + 0xfff));
    out += line;
  }
  return out;
}

void run_regions(size_t n) {
  const std::string text = regions_text(n);
  Result<std::vector<ReservedRegion>> parsed = parse_sysfs_regions(text, "reserved_regions");
  if (!parsed) die(parsed.error().message);
  Host host;
  host.kernel = KernelVersion{6, 12};
  host.iommus.push_back(IommuUnit{.name = "dmar0",
                                  .driver = "intel",
                                  .registers = {{"cap", 0xd2008c22260206}, {"ecap", 0xf00f4a}}});
  Group& g = host.groups.emplace_back(Group{.id = 7, .type = "DMA"});
  g.devices.push_back(Device{.name = "0000:01:00.0", .iommu = "dmar0"});
  g.observed_regions = std::move(*parsed);
  explain_observed_regions(host);
  Result<ContainerReport> r =
      describe_container(host, {7}, Policy::kKernel, ContainerRules::kType1);
  if (!r || r->usable.size() < n) die("regions: unexpected answer");
}

// `iovamap check 7 --map MAP` on the 6.12-intel39 snapshot, which must fail (exit 1): some
// mappings of every map here are refused.
void check_map(const fs::path& map, const std::string& what) {
  tool::StringSink out;
  std::ostringstream err;
  std::string root = std::string(IOVAMAP_SOURCE_DIR) + "/tests/data/snapshots/6.12-intel39/root";
  int status = tool::run_tool(
      {"iovamap", "--root", root, "--policy", "kernel", "check", "7", "--map", map.string()}, 0,
      out, err, nullptr);
  if (status != 1) die(what + ": status " + std::to_string(status) + ": " + err.str());
}

// The intel39 snapshot's group 7 (aperture 2^39), n mappings: 4 KiB pages at 8 KiB strides
// from 4 GiB; every 4th overlaps the one before, every 8th passes the aperture, every 16th has
// a misaligned size.
void run_map(size_t n, const fs::path& dir) {
  fs::path map = dir / "map";
  {
    std::ofstream out(map);
    char line[64];
    for (size_t i = 0; i < n; ++i) {
      uint64_t iova = (uint64_t{1} << 32) + (i % 4 == 3 ? (i - 1) : i) * 0x2000;
      if (i % 8 == 5) iova += uint64_t{1} << 39;
      std::snprintf(line, sizeof line, "0x%llx %s\n", static_cast<unsigned long long>(iova),
                    i % 16 == 9 ? "0x1800" : "4K");
      out << line;
    }
  }
  check_map(map, "map");
}

// The nearest-placement worst case: n/2 pages at 8 KiB strides leave n/2 holes of 4 KiB, then
// n/2 requests of 8 KiB among them fail, each asking where 8 KiB would fit (only past the last
// hole): a walk over the holes would make this quadratic.
void run_holes(size_t n, const fs::path& dir) {
  fs::path map = dir / "holes";
  {
    std::ofstream out(map);
    char line[64];
    for (size_t i = 0; i < n; ++i) {
      uint64_t iova = (uint64_t{1} << 32) + (i < n / 2 ? i : i - n / 2) * 0x2000;
      std::snprintf(line, sizeof line, "0x%llx %s\n", static_cast<unsigned long long>(iova),
                    i < n / 2 ? "4K" : "8K");
      out << line;
    }
  }
  check_map(map, "holes");
}

void run_topology(size_t n, const fs::path& dir) {
  fs::path file = dir / "t.toml";
  {
    std::ofstream out(file);
    // Compact TOML (inline device tables, a one-letter unit name) so that 1M groups stay
    // under the 64 MiB cap on one input file (include/iovamap/input_file.h).
    out << "kernel = \"6.12\"\n[[iommu]]\nname = \"d\"\ndriver = \"intel\"\n"
           "address-bits = 39\n";
    for (size_t i = 0; i < n; ++i) {
      char bdf[32];
      std::snprintf(bdf, sizeof bdf, "%04zx:%02zx:%02zx.%zx", i >> 16, (i >> 8) & 0xff,
                    (i >> 3) & 0x1f, i & 7);
      out << "[[group]]\nid=" << i << "\niommu=\"d\"\ndevice=[{bdf=\"" << bdf << "\"}]\n";
    }
  }
  tool::StringSink out;
  std::ostringstream err;
  int status = tool::run_tool({"iovamap", "--topology", file.string(), "--format", "json", "list"},
                              0, out, err, nullptr);
  if (status != 0) die("topology: " + err.str());
}

}  // namespace

int main(int argc, char** argv) {
  size_t max = 1000000;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--max") == 0) max = std::strtoull(argv[i + 1], nullptr, 10);
  TempDir tmp;
  std::vector<size_t> sizes;
  for (size_t n = 10000; n <= max; n *= 10) sizes.push_back(n);
  struct Input {
    const char* name;
    std::function<void(size_t)> run;
  };
  std::vector<Input> inputs = {
      {"regions", run_regions},
      {"map", [&](size_t n) { run_map(n, tmp.path()); }},
      {"map, holes", [&](size_t n) { run_holes(n, tmp.path()); }},
      {"topology", [&](size_t n) { run_topology(n, tmp.path()); }},
  };
  std::printf("| input | entries | seconds | per entry | vs 10x fewer | n log n would be |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (const Input& input : inputs) {
    double previous = 0;
    for (size_t n : sizes) {
      double t = seconds([&] { input.run(n); });
      double expected = 10.0 * std::log2(double(n)) / std::log2(double(n) / 10);
      char ratio[32] = "", bound[32] = "";
      if (previous > 0) {
        std::snprintf(ratio, sizeof ratio, "%.1fx", t / previous);
        std::snprintf(bound, sizeof bound, "%.1fx", expected);
      }
      std::printf("| %s | %zu | %.3f | %.2f us | %s | %s |\n", input.name, n, t, t / n * 1e6, ratio,
                  bound);
      std::fflush(stdout);
      previous = t;
    }
  }
  return 0;
}
