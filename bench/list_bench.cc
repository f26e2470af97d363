// `iovamap list --format json` on a synthetic host of 4096 groups and 8192 devices, against the
// floor: a plain loop that only opens, reads and closes the same files (readlink for the links,
// opendir/readdir for the directories) that the command reads. Both run in this process on a
// warm dentry cache, so the ratio is the cost of our reader, discovery, the model and the JSON
// on top of the kernel's own work. Target: within 2x.
//
// Usage: list_bench [google-benchmark flags]; prints the ratio last.
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "iovamap/discovery.h"
#include "iovamap/snapshot.h"
#include "iovamap/sysfs_reader.h"
#include "tool.h"

namespace fs = std::filesystem;
using namespace iovamap;

namespace {

constexpr int kGroups = 4096;
constexpr int kDevicesPerGroup = 2;

void write(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << content;
}

void link(const fs::path& p, const std::string& target) {
  fs::create_directories(p.parent_path());
  fs::create_symlink(target, p);
}

// Builds the synthetic snapshot (real symlinks, the shapes of a 6.12 Intel host) under `root`.
void build_host(const fs::path& root) {
  write(root / "proc/sys/kernel/osrelease", "6.12.0-bench\n");
  write(root / "proc/cmdline", "BOOT_IMAGE=/vmlinuz intel_iommu=on\n");
  write(root / "sys/devices/virtual/iommu/dmar0/intel-iommu/cap", "d2008c22260206\n");
  write(root / "sys/devices/virtual/iommu/dmar0/intel-iommu/ecap", "f00f4a\n");
  link(root / "sys/class/iommu/dmar0", "../../devices/virtual/iommu/dmar0");
  fs::create_directories(root / "sys/bus/pci/drivers/vfio-pci");
  fs::create_directories(root / "sys/bus/pci/drivers/igb");
  for (int g = 0; g < kGroups; ++g) {
    fs::path group = root / "sys/kernel/iommu_groups" / std::to_string(g);
    write(group / "type", "DMA-FQ\n");
    write(group / "reserved_regions", "0x00000000fee00000 0x00000000feefffff msi\n");
    for (int k = 0; k < kDevicesPerGroup; ++k) {
      int i = g * kDevicesPerGroup + k;
      char bdf[16];
      std::snprintf(bdf, sizeof bdf, "0000:%02x:%02x.%x", i / 32, i % 32, 0);
      fs::path dev = root / "sys/devices/pci0000:00" / bdf;
      write(dev / "vendor", "0x8086\n");
      write(dev / "device", "0x1533\n");
      write(dev / "class", "0x020000\n");
      write(dev / "dma_mask_bits", "64\n");
      write(dev / "consistent_dma_mask_bits", "64\n");
      link(dev / "driver",
           k == 0 ? "../../../bus/pci/drivers/vfio-pci" : "../../../bus/pci/drivers/igb");
      link(dev / "iommu", "../../virtual/iommu/dmar0");
      link(dev / "iommu_group", "../../../kernel/iommu_groups/" + std::to_string(g));
      link(group / "devices" / bdf, std::string("../../../../devices/pci0000:00/") + bdf);
    }
  }
}

struct Fixture {
  fs::path root;
  // Exactly what `list` reads, from a recorded run.
  std::vector<std::string> files, links, dirs;

  Fixture() {
    char tmpl[] = "/tmp/iovamap-list-bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::abort();
    root = tmpl;
    build_host(root);
    auto reader = open_root_reader(root.string());
    RecordingReader rec(**reader);
    if (!discover(rec, "bench")) std::abort();
    for (const auto& [p, c] : rec.files()) files.push_back((root / p).string());
    for (const auto& [p, c] : rec.links()) links.push_back((root / p).string());
    for (const auto& [p, c] : rec.dirs()) dirs.push_back((root / p).string());
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// The floor: open, read to the end, close; readlink; opendir, readdir, closedir.
void BM_Floor(benchmark::State& state) {
  Fixture& f = fixture();
  char buf[4096];
  for (auto _ : state) {
    size_t bytes = 0;
    for (const std::string& p : f.files) {
      int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) std::abort();
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) bytes += static_cast<size_t>(n);
      ::close(fd);
    }
    for (const std::string& p : f.links)
      bytes += static_cast<size_t>(::readlink(p.c_str(), buf, sizeof buf));
    for (const std::string& p : f.dirs) {
      DIR* d = ::opendir(p.c_str());
      while (dirent* e = ::readdir(d)) bytes += e->d_reclen;
      ::closedir(d);
    }
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["files"] = static_cast<double>(f.files.size());
  state.counters["links"] = static_cast<double>(f.links.size());
  state.counters["dirs"] = static_cast<double>(f.dirs.size());
}

// The command, in-process, JSON to memory.
void BM_ListJson(benchmark::State& state) {
  Fixture& f = fixture();
  size_t bytes = 0;
  for (auto _ : state) {
    tool::StringSink out;
    std::ostringstream err;
    int status = tool::run_tool({"iovamap", "--root", f.root.string(), "--format", "json", "list"},
                                0, out, err, nullptr);
    if (status != 0) {
      std::fprintf(stderr, "%s", err.str().c_str());
      std::abort();
    }
    bytes = out.text.size();
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["json_bytes"] = static_cast<double>(bytes);
}

BENCHMARK(BM_Floor)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_ListJson)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// Keeps each benchmark's real time per iteration to print the ratio.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      std::string name = r.benchmark_name();
      name = name.substr(0, name.find('/'));  // "BM_Floor/min_time:2.000" -> "BM_Floor"
      real_[name] = r.GetAdjustedRealTime();
      cpu_[name] = r.GetAdjustedCPUTime();
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> real_, cpu_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  fixture();  // build the host before timing anything
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  if (reporter.cpu_.count("BM_Floor") && reporter.cpu_.count("BM_ListJson")) {
    // CPU time (user + system, this process) is the primary figure: on a shared machine the
    // wall clock also counts other processes' turns.
    std::printf("ratio list --format json / floor: %.2f CPU time, %.2f wall time (target <= 2)\n",
                reporter.cpu_["BM_ListJson"] / reporter.cpu_["BM_Floor"],
                reporter.real_["BM_ListJson"] / reporter.real_["BM_Floor"]);
  }
  benchmark::Shutdown();
  return 0;
}
