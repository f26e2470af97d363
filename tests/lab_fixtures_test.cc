// Golden tests against real kernels: every tests/data/lab-<config>/ fixture was captured by
// the QEMU lab (tests/lab/run.sh --update-fixtures) from a Debian 6.1, Debian 6.12 or the lab's
// built 6.12 kernel. Each holds root/ (the sysfs snapshot, real symlinks) and expected/ (the
// kernel's answers: reserved_regions.<group>, and for groups bound to vfio-pci the raw
// VFIO_IOMMU_GET_INFO reply get_info.<tag>, vfio_ranges.<tag>, iova_pgsizes.<tag>, the
// MAP_DMA verdicts map_probe.<tag>, and on the built kernel the iommufd IOAS ranges). <tag> is
// a group number, or "all" for one container holding every group in expected/vfio_groups.
#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "iovamap/range_set.h"
#include "iovamap/region.h"
#include "lab_data.h"
#include "vfio_live.h"

namespace iovamap {
namespace {

namespace fs = std::filesystem;
using lab::hex_bytes;
using lab::lab_dirs;
using lab::slurp;

// expected/<prefix>.<tag> files of one fixture, by tag.
std::map<std::string, fs::path> tagged(const fs::path& dir, const std::string& prefix) {
  std::map<std::string, fs::path> out;
  for (const auto& e : fs::directory_iterator(dir / "expected")) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix + ".", 0) == 0) out[name.substr(prefix.size() + 1)] = e.path();
  }
  return out;
}

std::vector<Range> parse_ranges(const std::string& text) {
  std::vector<Range> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    uint64_t a = 0, b = 0;
    if (std::sscanf(line.c_str(), "0x%" SCNx64 " 0x%" SCNx64, &a, &b) == 2) out.push_back({a, b});
  }
  return out;
}

std::vector<std::string> groups_of(const fs::path& dir, const std::string& tag) {
  if (tag != "all") return {tag};
  std::istringstream in(slurp(dir / "expected" / "vfio_groups"));
  std::vector<std::string> out;
  std::string g;
  while (in >> g) out.push_back(g);
  return out;
}

TEST(LabFixtures, Present) {
  // The lab's matrix: x86_64 (Intel 39/48, AMD, virtio, no IOMMU) and arm64 SMMUv3.
  EXPECT_GE(lab_dirs().size(), 10u);
}

// sysfs reserved_regions: our parser and printer give back the kernel's bytes, for every
// group of every configuration, and the snapshot holds the same file.
TEST(LabFixtures, ReservedRegionsRoundTripByteForByte) {
  for (const auto& dir : lab_dirs()) {
    for (const auto& [group, path] : tagged(dir, "reserved_regions")) {
      std::string text = slurp(path);
      auto regions = parse_sysfs_regions(text, path.string());
      ASSERT_TRUE(regions) << regions.error().message;
      EXPECT_EQ(to_sysfs(*regions), text) << path;
      fs::path snap = dir / "root/sys/kernel/iommu_groups" / group / "reserved_regions";
      EXPECT_EQ(slurp(snap), text) << snap;
      // Rebuilding the list by the kernel's insertion gives the same list: sysfs shows a
      // list that is already sorted and merged.
      RegionList list;
      list.insert_all(*regions);
      EXPECT_EQ(list.to_sysfs(), text) << path;
    }
  }
}

// VFIO_IOMMU_GET_INFO: the raw reply parses to exactly the ranges and page sizes the lab
// printed, and the chain has the layout the spec digest describes.
TEST(LabFixtures, GetInfoRepliesParse) {
  int seen = 0;
  for (const auto& dir : lab_dirs()) {
    for (const auto& [tag, path] : tagged(dir, "get_info")) {
      auto info = parse_type1_info(hex_bytes(slurp(path)));
      ASSERT_TRUE(info) << path << ": " << info.error().message;
      EXPECT_EQ(format_vfio_ranges(info->iova_ranges),
                slurp(dir / "expected" / ("vfio_ranges." + tag)))
          << path;
      uint64_t pgsizes =
          std::stoull(slurp(dir / "expected" / ("iova_pgsizes." + tag)), nullptr, 16);
      EXPECT_EQ(info->iova_pgsizes, pgsizes) << path;
      EXPECT_EQ(info->argsz, info->raw.size()) << path;
      EXPECT_EQ(info->flags, kVfioInfoPgsizes | kVfioInfoCaps) << path;
      // Chain order: migration, dma-avail, iova ranges.
      ASSERT_EQ(info->caps.size(), 3u) << path;
      EXPECT_EQ(info->caps[0].id, kVfioCapMigration);
      EXPECT_EQ(info->caps[1].id, kVfioCapDmaAvail);
      EXPECT_EQ(info->caps[2].id, kVfioCapIovaRange);
      EXPECT_EQ(info->dma_avail, 65535u) << path;
      ++seen;
    }
  }
  EXPECT_GT(seen, 0);
}

// MAP_DMA of one page at every boundary: the kernel's verdict equals our type1 rule applied
// to the ranges the kernel reported.
TEST(LabFixtures, MapDmaVerdictsMatchTheType1Rule) {
  int seen = 0;
  for (const auto& dir : lab_dirs()) {
    for (const auto& [tag, path] : tagged(dir, "map_probe")) {
      auto ranges = parse_ranges(slurp(dir / "expected" / ("vfio_ranges." + tag)));
      uint64_t pgsizes =
          std::stoull(slurp(dir / "expected" / ("iova_pgsizes." + tag)), nullptr, 16);
      uint64_t page = pgsizes & (~pgsizes + 1);
      std::istringstream in(slurp(path));
      std::string line;
      while (std::getline(in, line)) {
        uint64_t iova = 0;
        char kernel[32] = {};
        ASSERT_EQ(std::sscanf(line.c_str(), "0x%" SCNx64 " kernel=%31s", &iova, kernel), 2) << line;
        int want = type1_map_verdict(ranges, pgsizes, iova, page);
        EXPECT_EQ(std::string(kernel), want == 0 ? "OK" : "EINVAL") << path << ": " << line;
        ++seen;
      }
    }
  }
  EXPECT_GT(seen, 0);
}

// The usable list VFIO reports is the aperture minus every reserved region of the attached
// groups except direct-relaxable ones (vfio_iommu_type1.c, vfio_iommu_resv_exclude skips
// IOMMU_RESV_DIRECT_RELAXABLE; MSI and SW_MSI are cut too). The aperture end is taken from the
// kernel's own answer here (the driver model predicts it elsewhere).
TEST(LabFixtures, VfioRangesAreApertureMinusNonRelaxableRegions) {
  int seen = 0;
  for (const auto& dir : lab_dirs()) {
    for (const auto& [tag, path] : tagged(dir, "vfio_ranges")) {
      auto kernel = parse_ranges(slurp(path));
      ASSERT_FALSE(kernel.empty()) << path;
      RangeSet model{Range{0, kernel.back().last}};
      for (const auto& g : groups_of(dir, tag)) {
        fs::path rr = dir / "expected" / ("reserved_regions." + g);
        auto regions = parse_sysfs_regions(slurp(rr), rr.string());
        ASSERT_TRUE(regions) << regions.error().message;
        for (const auto& r : *regions) {
          if (r.type != RegionType::kDirectRelaxable) model.remove(r.range());
        }
      }
      EXPECT_EQ(format_vfio_ranges(model.ranges()), slurp(path)) << path;
      ++seen;
    }
  }
  EXPECT_GT(seen, 0);
}

// iommufd (built kernel): an empty IOAS allows everything with alignment 1; after attaching
// the devices it reports exactly the type1 list, aligned to the 4 KiB page.
TEST(LabFixtures, IommufdAgreesWithType1) {
  for (const auto& dir : lab_dirs()) {
    for (const auto& [tag, path] : tagged(dir, "iommufd_ranges")) {
      EXPECT_EQ(slurp(dir / "expected" / ("iommufd_empty." + tag)),
                "0x0000000000000000 0xffffffffffffffff\nalignment 0x1\n")
          << path;
      EXPECT_EQ(slurp(path),
                slurp(dir / "expected" / ("vfio_ranges." + tag)) + "alignment 0x1000\n")
          << path;
    }
  }
}

}  // namespace
}  // namespace iovamap
