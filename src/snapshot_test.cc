// Snapshots: capture a real snapshot again and read it back; atomicity on failure; hostile
// sources.
#include "iovamap/snapshot.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "iovamap/discovery.h"
#include "iovamap/vm_host.h"
#include "test_tree.h"

namespace iovamap {
namespace {

namespace fs = std::filesystem;

std::string snapshot_root(const std::string& name) {
  return std::string(IOVAMAP_TEST_DATA) + "/snapshots/" + name + "/root";
}

// Every host field discovery fills, as text, for comparisons.
std::string describe(const Host& h) {
  std::string out = h.kernel.to_string() + "\n";
  for (const IommuUnit& u : h.iommus) {
    out += u.name + " " + std::string(driver_name(u.driver));
    for (const auto& [key, value] : u.registers) out += " " + key + "=" + hex(value);
    for (const auto& [key, value] : u.settings) out += " " + key + "=" + hex(value);
    out += "\n";
  }
  for (const Group& g : h.groups) {
    out += "group " + std::to_string(g.id) + " " + g.type + "\n";
    if (g.observed_regions) out += to_sysfs(*g.observed_regions);
    for (const Device& d : g.devices)
      out += d.name + " " + hex(d.vendor) + " " + hex(d.device_id) + " " + hex(d.class_code) + " " +
             d.driver + " " + std::to_string(d.dma_mask_bits.value_or(0)) + " " +
             std::to_string(d.coherent_dma_mask_bits.value_or(0)) + " " + d.iommu + "\n";
  }
  return out;
}

std::string describe_dir(const std::string& root) {
  auto r = open_root_reader(root);
  EXPECT_TRUE(r);
  Result<Discovery> d = discover(**r, root);
  EXPECT_TRUE(d) << d.error().message;
  return d ? describe(d->host) : "";
}

TEST(Snapshot, CaptureReadsBackTheSameHost) {
  for (const char* name : {"6.12-intel39", "6.12-amd", "6.12-virtio"}) {
    TempDir tmp;
    std::string out = (tmp.path() / "snap").string();
    auto src = open_root_reader(snapshot_root(name));
    Result<SnapshotReport> r = capture_snapshot(**src, out);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_GT(r->files, 20u);
    EXPECT_GT(r->links, 10u);
    EXPECT_EQ(describe_dir(out), describe_dir(snapshot_root(name))) << name;
    // Links stay links, with sysfs's text.
    fs::path group_dev = fs::path(out) / "sys/kernel/iommu_groups/3/devices";
    ASSERT_TRUE(fs::is_directory(group_dev));
    for (const auto& e : fs::directory_iterator(group_dev)) EXPECT_TRUE(e.is_symlink());
    // The firmware table is kept.
    EXPECT_TRUE(fs::exists(fs::path(out) / "proc/cmdline"));
    std::ifstream m(fs::path(out) / "manifest.json");
    nlohmann::json manifest = nlohmann::json::parse(m);
    EXPECT_EQ(manifest["format"], "iovamap-snapshot");
    EXPECT_EQ(manifest["kernel"], "6.12");
    EXPECT_EQ(manifest["entries"].size(), r->files + r->links + r->dirs);
    // Capturing a capture gives the same tree (manifest aside).
    std::string again = (tmp.path() / "again").string();
    auto src2 = open_root_reader(out);
    ASSERT_TRUE(capture_snapshot(**src2, again));
    EXPECT_EQ(describe_dir(again), describe_dir(out));
    // Nothing else was left in the parent.
    size_t count = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path())) ++count;
    EXPECT_EQ(count, 2u);
  }
}

// vm-check's host facts: the CPU's physical address bits (/proc/cpuinfo) and each PCI
// device's BARs (its sysfs resource file) are captured and read back from the snapshot.
TEST(Snapshot, CapturesCpuinfoAndEachDevicesResource) {
  TempDir tmp;
  fs::path host = tmp.path() / "host";
  fs::copy(snapshot_root("6.12-intel39"), host,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  std::ofstream(host / "proc/cpuinfo") << "processor\t: 0\nvendor_id\t: GenuineIntel\n"
                                          "address sizes\t: 46 bits physical, 48 bits virtual\n\n";
  // 0000:00:04.0: a 16 GiB 64-bit prefetchable BAR 0 and a 16 KiB 32-bit BAR 2.
  std::string resource =
      "0x0000004000000000 0x00000043ffffffff 0x000000000014220c\n"
      "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
      "0x00000000fe000000 0x00000000fe003fff 0x0000000000040200\n";
  for (int i = 3; i < 13; ++i)
    resource += "0x0000000000000000 0x0000000000000000 0x0000000000000000\n";
  std::ofstream(host / "sys/devices/pci0000:00/0000:00:04.0/resource") << resource;

  std::string out = (tmp.path() / "snap").string();
  auto src = open_root_reader(host.string());
  Result<SnapshotReport> r = capture_snapshot(**src, out);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(fs::exists(fs::path(out) / "proc/cpuinfo"));
  EXPECT_TRUE(fs::exists(fs::path(out) / "sys/devices/pci0000:00/0000:00:04.0/resource"));

  auto snap = open_root_reader(out);
  Result<VmHostCpu> cpu = read_host_cpu(**snap);
  ASSERT_TRUE(cpu) << cpu.error().message;
  EXPECT_EQ(cpu->phys_bits, 46u);
  EXPECT_EQ(cpu->vendor, CpuVendor::kIntel);
  // Through the sys/bus/pci/devices link, as vm-check reads it.
  Result<std::vector<VmBar>> bars = read_device_bars(**snap, "0000:00:04.0");
  ASSERT_TRUE(bars) << bars.error().message;
  ASSERT_EQ(bars->size(), 2u);
  EXPECT_EQ((*bars)[0].size, uint64_t{16} << 30);
  EXPECT_TRUE((*bars)[0].is64);
  EXPECT_EQ((*bars)[1].index, 2u);
  EXPECT_EQ((*bars)[1].size, uint64_t{16} << 10);
}

TEST(Snapshot, ExistingTargetIsRefused) {
  TempDir tmp;
  fs::create_directory(tmp.path() / "snap");
  auto src = open_root_reader(snapshot_root("6.12-amd"));
  Result<SnapshotReport> r = capture_snapshot(**src, (tmp.path() / "snap").string());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, EEXIST);
  EXPECT_TRUE(fs::is_empty(tmp.path() / "snap"));
}

TEST(Snapshot, FailureLeavesNothingBehind) {
  TempDir tmp;
  FakeSysfs bad;
  bad.add_file("proc/sys/kernel/osrelease", "6.12\n");
  bad.add_file("sys/kernel/iommu_groups/0/reserved_regions", "garbage\n");
  bad.add_dir("sys/kernel/iommu_groups/0/devices");
  Result<SnapshotReport> r = capture_snapshot(bad, (tmp.path() / "snap").string());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("reserved_regions:1"), std::string::npos) << r.error().message;
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(Snapshot, HostileLinkTextsAreKeptAsTextOnly) {
  TempDir tmp;
  FakeSysfs f;
  f.add_file("proc/sys/kernel/osrelease", "6.12\n");
  f.add_file("sys/kernel/iommu_groups/1/type", "DMA\n");
  f.add_dir("sys/kernel/iommu_groups/1/devices");
  // A unit whose link points outside any root: captured as a link, never followed out.
  f.add_link("sys/class/iommu/evil", "/etc");
  f.add_dir("etc");
  std::string out = (tmp.path() / "snap").string();
  Result<SnapshotReport> r = capture_snapshot(f, out);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(fs::read_symlink(fs::path(out) / "sys/class/iommu/evil"), "/etc");
  // Reading the capture resolves "/etc" inside it.
  EXPECT_NE(describe_dir(out), "");
}

}  // namespace
}  // namespace iovamap
