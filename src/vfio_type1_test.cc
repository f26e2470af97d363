// The type1 container against (1) real kernels' answers (tests/data/vfio), (2) hand cases for
// each quirk of vfio_iommu_type1.c, (3) a brute-force model that keeps the usable IOVAs as a
// bitset over a 64 KiB universe at the bottom or at the top of the 64-bit space.
#include "iovamap/vfio_type1.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <bitset>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "iovamap/iommufd_ioas.h"

namespace iovamap {
namespace {

constexpr uint64_t k4K = 0x1000;
constexpr uint64_t kIntelPgsizes = 0x40201000;

ReservedRegion region(uint64_t first, uint64_t last, RegionType type) {
  return ReservedRegion::make(Range{first, last}, type);
}

Type1Group group(uint32_t id, Range aperture, std::vector<ReservedRegion> regions = {},
                 std::string key = "") {
  return Type1Group{id, aperture, std::move(regions), kIntelPgsizes, std::move(key)};
}

// ---- real kernels -------------------------------------------------------------------------

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Snapshot {
  std::string dir;
  Range aperture;
  std::vector<uint32_t> groups;
};

const Snapshot kSnapshots[] = {
    {"6.12-intel39", {0, 0x7fffffffff}, {3, 4, 5, 6, 7, 8}},
    {"6.12-amd", Range::all(), {3, 4, 5, 6, 7, 8}},
    {"6.12-virtio", Range::all(), {4, 5, 6}},
};

TEST(Type1Golden, EachGroupAloneGivesTheKernelsRanges) {
  int checked = 0;
  for (const Snapshot& s : kSnapshots) {
    std::string dir = std::string(IOVAMAP_TEST_DATA) + "/vfio/" + s.dir + "/";
    for (uint32_t id : s.groups) {
      std::string name = "reserved_regions." + std::to_string(id);
      auto regions = parse_sysfs_regions(read_file(dir + name), name);
      ASSERT_TRUE(regions.ok()) << regions.error().message;
      uint64_t pgsizes =
          std::stoull(read_file(dir + "iova_pgsizes." + std::to_string(id)), nullptr, 16);
      Type1Container c(KernelVersion{6, 12});
      ASSERT_TRUE(c.attach(Type1Group{id, s.aperture, *regions, pgsizes, "iommu"}).ok());
      std::string expected = read_file(dir + "vfio_ranges." + std::to_string(id));
      EXPECT_EQ(to_sysfs_lines(c.iova_list()), expected) << s.dir << " group " << id;
      EXPECT_EQ(c.pgsize_bitmap(), pgsizes) << s.dir << " group " << id;
      // lab.md: an iommufd IOAS holding the device reports exactly the type1 ranges.
      IoasModel ioas;
      ASSERT_TRUE(
          ioas.attach(IoasDevice{"dev", *regions}, IoasDomain{"d", s.aperture, pgsizes}).ok());
      EXPECT_EQ(to_sysfs_lines(ioas.usable()), expected) << s.dir << " group " << id;
      EXPECT_EQ(ioas.iova_alignment(), k4K);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 15);
}

TEST(Type1Golden, LastPageMapsFirstPagePastFails) {
  // lab.md: MAP_DMA of the last page of each range succeeds; the page past it and 0xfee00000
  // fail with EINVAL (Intel aw-bits=39, 6.12).
  Type1Container c(KernelVersion{6, 12});
  ASSERT_TRUE(
      c.attach(group(7, {0, 0x7fffffffff}, {region(0xfee00000, 0xfeefffff, RegionType::kMsi)}))
          .ok());
  EXPECT_TRUE(c.map_dma(0xfedff000, k4K).ok());
  EXPECT_TRUE(c.map_dma(0x7ffffff000, k4K).ok());
  EXPECT_EQ(c.map_dma(0xfee00000, k4K).error().code, EINVAL);
  EXPECT_EQ(c.map_dma(0x8000000000, k4K).error().code, EINVAL);
  Status s = c.map_dma(0xfedff000, 2 * k4K);
  EXPECT_EQ(s.error().code, EEXIST) << s.error().message;
}

// The QEMU lab's captures (tests/data/lab-<config>-<kernel>/expected): for each container the
// lab built (one group, or `all` groups together) the ranges and page sizes the kernel
// reported, and the kernel's verdict on a real one-page MAP_DMA at every boundary.
struct LabConfig {
  const char* prefix;
  Range aperture;
};
const LabConfig kLabConfigs[] = {
    {"lab-intel39-", {0, 0x7fffffffff}},
    {"lab-intel48-", {0, 0xffffffffffff}},
    {"lab-amd-", Range::all()},
    // From 6.17 the v1 depth follows the IVRS's EFR, 0 under QEMU: 4 levels (a later entry
    // wins).
    {"lab-amd-618", {0, 0xffffffffffff}},
    {"lab-amd-7x", {0, 0xffffffffffff}},
    // The firmware-table configurations (tests/lab/acpi_tables.py): the same IOMMUs.
    {"lab-intel39rmrr-", {0, 0x7fffffffff}},
    {"lab-amdivmd-", Range::all()},
    {"lab-amdivmd-618", {0, 0xffffffffffff}},
    {"lab-virtio-", Range::all()},
    // SMMUv3 stage 1: the input size is clamped to the CPU's VA bits, 48 on Debian's arm64.
    {"lab-smmuv3acpi-", {0, 0xffffffffffff}},
    {"lab-smmuv3dt-", {0, 0xffffffffffff}},
};

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

TEST(Type1Golden, LabContainersAndMapProbes) {
  namespace fs = std::filesystem;
  int containers = 0, probes = 0, ioas_checks = 0;
  for (const auto& entry : fs::directory_iterator(IOVAMAP_TEST_DATA)) {
    std::string name = entry.path().filename().string();
    const LabConfig* config = nullptr;
    for (const LabConfig& c : kLabConfigs)
      if (name.rfind(c.prefix, 0) == 0) config = &c;
    fs::path dir = entry.path() / "expected";
    if (!config || !fs::exists(dir / "vfio_groups")) continue;
    auto kernel =
        KernelVersion::parse(read_file((entry.path() / "root/proc/sys/kernel/osrelease").string()));
    ASSERT_TRUE(kernel.ok()) << name;
    std::vector<std::string> all = split_words(read_file((dir / "vfio_groups").string()));
    for (const auto& f : fs::directory_iterator(dir)) {
      std::string file = f.path().filename().string();
      if (file.rfind("vfio_ranges.", 0) != 0) continue;
      std::string tag = file.substr(std::string("vfio_ranges.").size());
      std::vector<std::string> ids = tag == "all" ? all : std::vector<std::string>{tag};
      uint64_t pgsizes =
          std::stoull(read_file((dir / ("iova_pgsizes." + tag)).string()), nullptr, 16);
      Type1Container c(*kernel);
      for (const std::string& id : ids) {
        std::string rr = "reserved_regions." + id;
        auto regions = parse_sysfs_regions(read_file((dir / rr).string()), rr);
        ASSERT_TRUE(regions.ok()) << regions.error().message;
        Status s = c.attach(Type1Group{static_cast<uint32_t>(std::stoul(id)), config->aperture,
                                       *regions, pgsizes, "iommu"});
        ASSERT_TRUE(s.ok()) << name << " " << tag << ": " << s.error().message;
      }
      EXPECT_EQ(to_sysfs_lines(c.iova_list()), read_file(f.path().string())) << name << " " << tag;
      EXPECT_EQ(c.pgsize_bitmap(), pgsizes) << name << " " << tag;
      ++containers;
      // On the built kernel the lab also asked iommufd: an empty IOAS, then one holding the
      // same devices (each given its group's regions), then IOMMU_IOAS_IOVA_RANGES.
      if (fs::exists(dir / ("iommufd_ranges." + tag))) {
        IoasModel empty;
        EXPECT_EQ(to_sysfs_lines(empty.usable()) + "alignment 0x1\n",
                  read_file((dir / ("iommufd_empty." + tag)).string()))
            << name << " " << tag;
        IoasModel ioas;
        for (const std::string& id : ids) {
          std::string rr = "reserved_regions." + id;
          auto regions = parse_sysfs_regions(read_file((dir / rr).string()), rr);
          ASSERT_TRUE(ioas.attach(IoasDevice{"group" + id, *regions},
                                  IoasDomain{"iommu", config->aperture, pgsizes})
                          .ok());
        }
        EXPECT_EQ(to_sysfs_lines(ioas.usable()) + "alignment " + hex(ioas.iova_alignment()) + "\n",
                  read_file((dir / ("iommufd_ranges." + tag)).string()))
            << name << " " << tag;
        ++ioas_checks;
      }
      std::istringstream probe_lines(read_file((dir / ("map_probe." + tag)).string()));
      std::string line;
      while (std::getline(probe_lines, line)) {
        std::vector<std::string> w = split_words(line);
        if (w.size() < 2 || w[1].rfind("kernel=", 0) != 0) continue;
        uint64_t iova = std::stoull(w[0], nullptr, 16);
        std::string verdict = w[1].substr(7);
        Type1Container fresh = c;
        Status s = fresh.map_dma(iova, 0x1000);
        std::string ours = s.ok()                     ? "OK"
                           : s.error().code == EINVAL ? "EINVAL"
                                                      : std::to_string(s.error().code);
        EXPECT_EQ(ours, verdict) << name << " " << tag << " MAP_DMA " << w[0];
        ++probes;
      }
    }
  }
  // Every x86 and arm64 configuration the lab captured; the counts grow with the lab.
  EXPECT_GE(containers, 8);
  EXPECT_GE(probes, 50);
  EXPECT_GE(ioas_checks, 8);
  std::cout << "lab containers: " << containers << ", MAP_DMA probes: " << probes
            << ", iommufd IOAS: " << ioas_checks << "\n";
}

// ---- hand cases -----------------------------------------------------------------------------

TEST(Type1, FirstAttachIsApertureMinusRegions) {
  Type1Container c;
  ASSERT_TRUE(c.attach(group(1, Range::all(),
                             {region(0, 0xffffff, RegionType::kDirectRelaxable),
                              region(0xfee00000, 0xfeefffff, RegionType::kMsi),
                              region(0xfd00000000, 0xffffffffff, RegionType::kReserved),
                              region(0x8000000, 0x80fffff, RegionType::kSwMsi),
                              region(0xfffffffffffff000, kMaxAddress, RegionType::kDirect)}))
                  .ok());
  // direct-relaxable stays usable; MSI, SW_MSI, reserved and direct are cut out.
  EXPECT_EQ(c.iova_list(), (std::vector<Range>{{0, 0x7ffffff},
                                               {0x8100000, 0xfedfffff},
                                               {0xfef00000, 0xfcffffffff},
                                               {0x10000000000, 0xffffffffffffefff}}));
  EXPECT_EQ(c.pgsize_bitmap(), kIntelPgsizes);
}

TEST(Type1, TrimQuirkDeletesANodeEndingAtTheNewStart) {
  // List [0, 0xfff], [0x2000, 0x2fff]; a new aperture starting at 0xfff keeps nothing of the
  // first node (the true intersection would keep the single address 0xfff).
  Type1Container c;
  ASSERT_TRUE(
      c.attach(group(1, {0, 0x2fff}, {region(0x1000, 0x1fff, RegionType::kReserved)})).ok());
  ASSERT_TRUE(c.attach(group(2, {0xfff, 0xffff})).ok());
  EXPECT_EQ(c.iova_list(), (std::vector<Range>{{0x2000, 0x2fff}}));
}

TEST(Type1, TrimQuirkDeletesANodeStartingAtTheNewEnd) {
  Type1Container c;
  ASSERT_TRUE(
      c.attach(group(1, {0, 0x2fff}, {region(0x1000, 0x1fff, RegionType::kReserved)})).ok());
  ASSERT_TRUE(c.attach(group(2, {0, 0x2000})).ok());
  EXPECT_EQ(c.iova_list(), (std::vector<Range>{{0, 0xfff}}));
}

TEST(Type1, TrimQuirkCanFailAnAttach) {
  // The only node ends where the new aperture starts: nothing is left, and the kernel fails
  // the attach with EINVAL although one address is common to both.
  Type1Container c;
  ASSERT_TRUE(c.attach(group(1, {0, 0x1fff})).ok());
  Status s = c.attach(group(2, {0x1fff, kMaxAddress}));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, EINVAL);
  EXPECT_NE(s.error().message.find("group 2"), std::string::npos) << s.error().message;
  EXPECT_EQ(c.iova_list(), (std::vector<Range>{{0, 0x1fff}}));  // unchanged
  EXPECT_EQ(c.group_ids(), (std::vector<uint32_t>{1}));
}

TEST(Type1, ApertureConflicts) {
  Type1Container c;
  ASSERT_TRUE(c.attach(group(1, {0x100000, 0x1fffff})).ok());
  // Disjoint aperture.
  EXPECT_EQ(c.attach(group(2, {0x200000, 0x2fffff})).error().code, EINVAL);
  EXPECT_EQ(c.attach(group(2, {0, 0xfffff})).error().code, EINVAL);
  // A mapping outside the new aperture.
  ASSERT_TRUE(c.map_dma(0x100000, k4K).ok());
  Status s = c.attach(group(2, {0x101000, kMaxAddress}));
  EXPECT_EQ(s.error().code, EINVAL);
  EXPECT_NE(s.error().message.find("below its aperture"), std::string::npos) << s.error().message;
  ASSERT_TRUE(c.map_dma(0x1ff000, k4K).ok());
  EXPECT_EQ(c.attach(group(2, {0, 0x1fefff})).error().code, EINVAL);
  // Already attached.
  EXPECT_EQ(c.attach(group(1, {0x100000, 0x1fffff})).error().code, EINVAL);
  // An aperture covering the mappings is fine.
  EXPECT_TRUE(c.attach(group(2, {0x100000, 0x1fffff})).ok());
}

TEST(Type1, ReservedRegionConflictsWithAMapping) {
  Type1Container c;
  ASSERT_TRUE(c.attach(group(1, Range::all())).ok());
  ASSERT_TRUE(c.map_dma(0xfee00000, k4K).ok());
  Status s = c.attach(group(2, Range::all(), {region(0xfee00000, 0xfeefffff, RegionType::kMsi)}));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, EINVAL);
  EXPECT_NE(s.error().message.find("msi region"), std::string::npos) << s.error().message;
  // A direct-relaxable region over the mapping is accepted and not cut out.
  ASSERT_TRUE(
      c.attach(group(3, Range::all(), {region(0, 0xffffffff, RegionType::kDirectRelaxable)})).ok());
  EXPECT_EQ(c.iova_list(), (std::vector<Range>{Range::all()}));
}

TEST(Type1, NothingLeftFailsTheAttach) {
  Type1Container c;
  Status s = c.attach(group(1, {0, 0xffff}, {region(0, 0xffff, RegionType::kReserved)}));
  EXPECT_EQ(s.error().code, EINVAL);
  EXPECT_TRUE(c.iova_list().empty());
  EXPECT_TRUE(c.group_ids().empty());
}

TEST(Type1, DetachOfASharedDomainKeepsTheTrimmedStart) {
  // Group 1 has a direct region at the bottom of the aperture; group 2 shares its domain.
  // Detaching group 1 rebuilds from the current first node's start: 0x1000, not 0.
  Type1Container c;
  ASSERT_TRUE(
      c.attach(group(1, {0, 0xffff}, {region(0, 0xfff, RegionType::kDirect)}, "dmar0")).ok());
  ASSERT_TRUE(c.attach(group(2, {0, 0xffff}, {}, "dmar0")).ok());
  ASSERT_TRUE(c.detach(1).ok());
  EXPECT_EQ(c.iova_list(), (std::vector<Range>{{0x1000, 0xffff}}));
  // With separate domains the detached group's domain goes away and the edge comes back.
  Type1Container d;
  ASSERT_TRUE(d.attach(group(1, {0, 0xffff}, {region(0, 0xfff, RegionType::kDirect)}, "a")).ok());
  ASSERT_TRUE(d.attach(group(2, {0, 0xffff}, {}, "b")).ok());
  ASSERT_TRUE(d.detach(1).ok());
  EXPECT_EQ(d.iova_list(), (std::vector<Range>{{0, 0xffff}}));
}

TEST(Type1, DetachRestoresInteriorRegionsAndApertures) {
  Type1Container c;
  ASSERT_TRUE(
      c.attach(group(1, Range::all(), {region(0xfee00000, 0xfeefffff, RegionType::kMsi)})).ok());
  ASSERT_TRUE(
      c.attach(group(2, {0, 0x7fffffffff}, {region(0x5000, 0x5fff, RegionType::kDirect)})).ok());
  EXPECT_EQ(c.iova_list(),
            (std::vector<Range>{{0, 0x4fff}, {0x6000, 0xfedfffff}, {0xfef00000, 0x7fffffffff}}));
  ASSERT_TRUE(c.detach(2).ok());
  EXPECT_EQ(c.iova_list(), (std::vector<Range>{{0, 0xfedfffff}, {0xfef00000, kMaxAddress}}));
  EXPECT_EQ(c.detach(2).error().code, ENOENT);
  // The last group takes the container with it.
  ASSERT_TRUE(c.map_dma(0x1000, k4K).ok());
  ASSERT_TRUE(c.detach(1).ok());
  EXPECT_TRUE(c.iova_list().empty());
  EXPECT_TRUE(c.mappings().empty());
  EXPECT_EQ(c.dma_avail(), 65535u);
}

TEST(Type1, DetachingTheLastDomainDropsTheMappings) {
  Type1Container c;
  ASSERT_TRUE(c.attach(group(1, Range::all(), {}, "a")).ok());
  ASSERT_TRUE(c.attach(group(2, Range::all(), {}, "a")).ok());
  ASSERT_TRUE(c.map_dma(0x1000, k4K).ok());
  ASSERT_TRUE(c.detach(1).ok());
  EXPECT_EQ(c.mappings().size(), 1u);  // the domain still has group 2
  EXPECT_EQ(c.dma_avail(), 65534u);
}

TEST(Type1, PageSizesAreAndedAndFoldedToFourKiB) {
  Type1Container c;
  Type1Group a = group(1, Range::all(), {}, "a");
  a.pgsize_bitmap = 0x40201000;
  Type1Group b = group(2, Range::all(), {}, "b");
  b.pgsize_bitmap = 0x000fff7ffffff200;  // a driver offering 512-byte pages
  ASSERT_TRUE(c.attach(a).ok());
  ASSERT_TRUE(c.attach(b).ok());
  EXPECT_EQ(c.pgsize_bitmap(), 0x40201000u);
  Type1Container d;
  ASSERT_TRUE(d.attach(b).ok());
  EXPECT_EQ(d.pgsize_bitmap(), 0x000fff7ffffff000u);
  // A shared domain does not change the page sizes.
  Type1Group e = group(3, Range::all(), {}, "a");
  e.pgsize_bitmap = 0x1000;
  ASSERT_TRUE(c.attach(e).ok());
  EXPECT_EQ(c.pgsize_bitmap(), 0x40201000u);
}

TEST(Type1, MapDmaChecksInKernelOrder) {
  Type1Container c(KernelVersion::newest(), 2);
  EXPECT_EQ(c.map_dma(0x1000, k4K).error().code, EINVAL);  // no group, no backend
  ASSERT_TRUE(
      c.attach(group(1, Range::all(), {region(0xfee00000, 0xfeefffff, RegionType::kMsi)})).ok());
  EXPECT_EQ(c.map_dma(0x1000, 0).error().code, EINVAL);
  EXPECT_EQ(c.map_dma(0x1800, k4K).error().code, EINVAL);
  EXPECT_EQ(c.map_dma(0x1000, 0x800).error().code, EINVAL);
  EXPECT_EQ(c.map_dma(0x1000, k4K, 0x1234).error().code, EINVAL);
  // v6.18: a wrapping range is EOVERFLOW, even when also misaligned.
  EXPECT_EQ(c.map_dma(0xfffffffffffff000, 0x2000).error().code, EOVERFLOW);
  EXPECT_EQ(c.map_dma(0xfffffffffffff800, 0x2000).error().code, EOVERFLOW);
  // Spanning two nodes (across the MSI hole) is EINVAL, even where both sides are usable.
  EXPECT_EQ(c.map_dma(0xfedff000, 0x102000).error().code, EINVAL);
  ASSERT_TRUE(c.map_dma(0, k4K).ok());
  EXPECT_EQ(c.map_dma(0, 2 * k4K).error().code, EEXIST);
  // The last page of the 64-bit space, and the budget.
  ASSERT_TRUE(c.map_dma(0xfffffffffffff000, k4K).ok());
  EXPECT_EQ(c.map_dma(0xffffffffffffe000, 0x2000).error().code, EEXIST);
  Status s = c.map_dma(0x2000, k4K);
  EXPECT_EQ(s.error().code, ENOSPC) << s.error().message;
  // EEXIST is checked before the budget, the node rule after it.
  EXPECT_EQ(c.map_dma(0, k4K).error().code, EEXIST);
  EXPECT_EQ(c.map_dma(0xfee00000, k4K).error().code, ENOSPC);
}

TEST(Type1, BeforeV618TheTopOfTheSpaceWraps) {
  Type1Container c(KernelVersion{6, 12});
  ASSERT_TRUE(c.attach(group(1, Range::all())).ok());
  // Wrap is EINVAL, and checked after alignment.
  EXPECT_EQ(c.map_dma(0xfffffffffffff000, 0x2000).error().code, EINVAL);
  ASSERT_TRUE(c.map_dma(0xfffffffffffff000, k4K).ok());
  // A request ending at 2^64-1 does not see the mapping there (v6.18 says EEXIST).
  EXPECT_TRUE(c.map_dma(0xffffffffffffe000, 0x2000).ok());
  // Nor does a request below that only overlaps the mapping ending at 2^64-1... which here
  // is the one just added: [0xffffffffffffe000, 2^64-1].
  EXPECT_TRUE(c.map_dma(0xffffffffffffe000, k4K).ok());
  // Mappings away from the top are still found.
  ASSERT_TRUE(c.map_dma(0x1000, k4K).ok());
  EXPECT_EQ(c.map_dma(0x1000, k4K).error().code, EEXIST);
  // The aperture check wraps too: a mapping at the top is not seen when a smaller aperture
  // arrives, so the attach passes (v6.18 refuses it).
  EXPECT_TRUE(c.attach(group(2, {0, 0x7fffffffff})).ok());
  Type1Container fixed;
  ASSERT_TRUE(fixed.attach(group(1, Range::all())).ok());
  ASSERT_TRUE(fixed.map_dma(0xfffffffffffff000, k4K).ok());
  EXPECT_EQ(fixed.attach(group(2, {0, 0x7fffffffff})).error().code, EINVAL);
}

TEST(Type1, MdevGroupsLeaveTheListEmptyAndAcceptAnything) {
  Type1Container c;
  Type1Group m;
  m.id = 9;
  m.iommu_backed = false;
  ASSERT_TRUE(c.attach(m).ok());
  EXPECT_TRUE(c.iova_list().empty());
  EXPECT_EQ(c.pgsize_bitmap(), 0xfffffffffffff000u);
  EXPECT_TRUE(c.map_dma(0xfee00000, k4K).ok());
  // An IOMMU group then narrows the list; the earlier mapping must fit its aperture.
  Status s = c.attach(group(1, Range::all(), {region(0xfee00000, 0xfeefffff, RegionType::kMsi)}));
  EXPECT_EQ(s.error().code, EINVAL);
  ASSERT_TRUE(c.detach(9).ok());
  EXPECT_TRUE(c.mappings().empty());
}

TEST(Type1, UnisolatedMsiNeedsUnsafeInterrupts) {
  // lab.md: virtio-iommu on x86 has no interrupt remapping; VFIO refuses with EPERM unless
  // allow_unsafe_interrupts is set. The check comes after the list checks.
  Type1Group g = group(4, Range::all(), {region(0xfee00000, 0xfeefffff, RegionType::kMsi)});
  g.msi_isolated = false;
  Type1Container strict;
  EXPECT_EQ(strict.attach(g).error().code, EPERM);
  EXPECT_TRUE(strict.iova_list().empty());
  Type1Group empty = g;
  empty.regions = {region(0, kMaxAddress, RegionType::kReserved)};
  EXPECT_EQ(strict.attach(empty).error().code, EINVAL);
  Type1Container lax(KernelVersion::newest(), 65535, true);
  EXPECT_TRUE(lax.attach(g).ok());
}

TEST(Type1, BeforeV54ThereIsNoList) {
  Type1Container c(KernelVersion{4, 19});
  ASSERT_TRUE(
      c.attach(group(1, {0, 0x7fffffffff}, {region(0xfee00000, 0xfeefffff, RegionType::kMsi)}))
          .ok());
  EXPECT_TRUE(c.iova_list().empty());
  EXPECT_EQ(c.pgsize_bitmap(), kIntelPgsizes);
  EXPECT_TRUE(c.map_dma(0xfee00000, k4K).ok());     // no region check
  EXPECT_TRUE(c.map_dma(0x10000000000, k4K).ok());  // nor aperture check
  EXPECT_TRUE(c.attach(group(2, {0, 0xfffff}, {})).ok());
  EXPECT_EQ(c.map_dma(0xfee00000, k4K).error().code, EEXIST);
}

TEST(Type1, InfoStateFeedsGetInfo) {
  Type1Container c;
  ASSERT_TRUE(
      c.attach(group(1, {0, 0x7fffffffff}, {region(0xfee00000, 0xfeefffff, RegionType::kMsi)}))
          .ok());
  ASSERT_TRUE(c.map_dma(0, k4K).ok());
  auto reply = type1_get_info(c.info_state(), 4096, GetInfoOptions::for_kernel({6, 12}));
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(*parse_iova_ranges(reply->bytes), c.iova_list());
  EXPECT_EQ(reply->bytes[64], 0xfe);  // dma_avail 65534
}

// ---- brute force ------------------------------------------------------------------------------

// The universe: 16 pages of 4 KiB, at 0 or at 2^64 - 64 KiB. Apertures and regions fall on any
// byte; mappings on pages (plus an occasional misaligned one).
constexpr uint64_t kU = 0x10000;
using Bits = std::bitset<kU>;

struct ModelGroup {
  uint32_t id;
  uint64_t first, last;  // aperture, offsets in the universe
  std::vector<std::tuple<uint64_t, uint64_t, RegionType>> regions;
  std::string key;
};

struct Model {
  uint64_t base = 0;
  uint32_t limit = 3;
  Bits list;
  Bits mapped;
  uint32_t nmaps = 0;
  std::vector<ModelGroup> groups;  // attached
  // domains: key -> (aperture of creator, number of groups); "" keys are unique per group
  struct Dom {
    std::string key;
    uint64_t first, last;
    int groups;
  };
  std::vector<Dom> doms;

  static Bits span_bits(uint64_t f, uint64_t l) {
    Bits b;
    for (uint64_t i = f; i <= l; ++i) b.set(i);
    return b;
  }
  static Bits cut(const ModelGroup& g) {
    Bits b;
    for (auto& [f, l, t] : g.regions)
      if (t != RegionType::kDirectRelaxable) b |= span_bits(f, l);
    return b;
  }
  static std::optional<uint64_t> first_bit(const Bits& b) {
    for (uint64_t i = 0; i < kU; ++i)
      if (b[i]) return i;
    return std::nullopt;
  }
  static std::optional<uint64_t> last_bit(const Bits& b) {
    for (uint64_t i = kU; i-- > 0;)
      if (b[i]) return i;
    return std::nullopt;
  }

  int attach(const ModelGroup& g) {
    for (auto& a : groups)
      if (a.id == g.id) return EINVAL;
    if (list.any()) {
      uint64_t lf = *first_bit(list), ll = *last_bit(list);
      if (g.first > ll || g.last < lf) return EINVAL;
      if (g.first > lf && (mapped & span_bits(lf, g.first - 1)).any()) return EINVAL;
      if (g.last < ll && (mapped & span_bits(g.last + 1, ll)).any()) return EINVAL;
    }
    if ((mapped & cut(g)).any()) return EINVAL;
    Bits next;
    if (list.none()) {
      next = span_bits(g.first, g.last);
    } else {
      // Trim: the intersection, minus `first` when it was the last address of a run, then
      // minus `last` when it is the first address of a run of what is left.
      next = list & span_bits(g.first, kU - 1);
      if (list[g.first] && (g.first == kU - 1 || !list[g.first + 1])) next.reset(g.first);
      Bits front = next;
      next &= span_bits(0, g.last);
      if (front[g.last] && (g.last == 0 || !front[g.last - 1])) next.reset(g.last);
    }
    next &= ~cut(g);
    if (next.none()) return EINVAL;
    list = next;
    groups.push_back(g);
    auto d = std::find_if(doms.begin(), doms.end(),
                          [&](const Dom& x) { return !g.key.empty() && x.key == g.key; });
    if (d != doms.end()) {
      ++d->groups;
    } else {
      doms.push_back(Dom{g.key.empty() ? "#" + std::to_string(g.id) : g.key, g.first, g.last, 1});
    }
    return 0;
  }

  int detach(uint32_t id) {
    auto g = std::find_if(groups.begin(), groups.end(), [&](auto& x) { return x.id == id; });
    if (g == groups.end()) return ENOENT;
    std::string key = g->key.empty() ? "#" + std::to_string(id) : g->key;
    groups.erase(g);
    auto d = std::find_if(doms.begin(), doms.end(), [&](auto& x) { return x.key == key; });
    uint64_t f = *first_bit(list), l = *last_bit(list);
    if (--d->groups == 0) {
      doms.erase(d);
      if (doms.empty()) {
        mapped.reset();
        nmaps = 0;
      }
      f = 0;
      l = kU - 1;
      for (auto& x : doms) f = std::max(f, x.first), l = std::min(l, x.last);
    }
    if (groups.empty()) {
      list.reset();
      return 0;
    }
    Bits rebuilt = f <= l ? span_bits(f, l) : Bits{};
    for (auto& x : groups) rebuilt &= ~cut(x);
    if (rebuilt.any()) list = rebuilt;
    return 0;
  }

  int map(uint64_t off, uint64_t size) {  // offsets in the universe, u128-safe via checks
    u128 end = u128{base} + off + size - 1;
    if (size == 0) return EINVAL;
    if (end > kMaxAddress) return EOVERFLOW;
    if ((off | size) & (0x1000 - 1)) return EINVAL;
    uint64_t last = off + size - 1;
    Bits range = last < kU ? span_bits(off, last) : Bits{};
    Bits touched = off >= kU ? Bits{} : span_bits(off, std::min(last, kU - 1));
    if ((mapped & touched).any()) return EEXIST;
    if (nmaps == limit) return ENOSPC;
    if (list.any() && (last >= kU || (list & range) != range)) return EINVAL;
    mapped |= range;
    ++nmaps;
    return 0;
  }
};

std::vector<Range> runs(const Bits& b, uint64_t base) {
  std::vector<Range> out;
  for (uint64_t i = 0; i < kU;) {
    if (!b[i]) {
      ++i;
      continue;
    }
    uint64_t j = i;
    while (j + 1 < kU && b[j + 1]) ++j;
    out.push_back(Range{base + i, base + j});
    i = j + 1;
  }
  return out;
}

rc::Gen<uint64_t> gen_addr() {
  // Favour page edges and their neighbours, where the quirks live.
  return rc::gen::oneOf(
      rc::gen::inRange<uint64_t>(0, kU),
      rc::gen::map(rc::gen::pair(rc::gen::inRange<uint64_t>(0, 17), rc::gen::inRange<int>(-1, 2)),
                   [](std::pair<uint64_t, int> p) {
                     int64_t v = static_cast<int64_t>(p.first * 0x1000) + p.second;
                     return static_cast<uint64_t>(
                         std::clamp<int64_t>(v, 0, static_cast<int64_t>(kU - 1)));
                   }));
}

rc::Gen<std::pair<uint64_t, uint64_t>> gen_span() {
  return rc::gen::map(rc::gen::pair(gen_addr(), gen_addr()), [](std::pair<uint64_t, uint64_t> p) {
    return std::make_pair(std::min(p.first, p.second), std::max(p.first, p.second));
  });
}

ModelGroup gen_group(uint32_t id) {
  ModelGroup g;
  g.id = id;
  auto [f, l] = *gen_span();
  g.first = f;
  g.last = l;
  size_t n = *rc::gen::inRange<size_t>(0, 4);
  for (size_t i = 0; i < n; ++i) {
    auto [rf, rl] = *gen_span();
    RegionType t = *rc::gen::element(RegionType::kDirect, RegionType::kDirectRelaxable,
                                     RegionType::kReserved, RegionType::kMsi, RegionType::kSwMsi);
    g.regions.emplace_back(rf, rl, t);
  }
  g.key = *rc::gen::element(std::string(""), std::string("a"), std::string("b"));
  return g;
}

Type1Group to_group(const ModelGroup& g, uint64_t base) {
  Type1Group t;
  t.id = g.id;
  t.aperture = Range{base + g.first, base + g.last};
  for (auto& [f, l, ty] : g.regions) t.regions.push_back(region(base + f, base + l, ty));
  t.pgsize_bitmap = kIntelPgsizes;
  t.domain_key = g.key;
  return t;
}

RC_GTEST_PROP(Type1, SequencesMatchBruteForce, ()) {
  Model m;
  m.base = *rc::gen::element(uint64_t{0}, kMaxAddress - (kU - 1));
  Type1Container c(KernelVersion::newest(), m.limit);
  std::vector<ModelGroup> pool;
  for (uint32_t id = 1; id <= 4; ++id) pool.push_back(gen_group(id));
  int steps = *rc::gen::inRange(1, 12);
  for (int step = 0; step < steps; ++step) {
    int op = *rc::gen::inRange(0, 3);
    if (op == 0) {
      const ModelGroup& g = pool[*rc::gen::inRange<size_t>(0, pool.size())];
      int want = m.attach(g);
      Status got = c.attach(to_group(g, m.base));
      RC_ASSERT((got.ok() ? 0 : got.error().code) == want);
    } else if (op == 1) {
      uint32_t id = *rc::gen::inRange<uint32_t>(1, 5);
      int want = m.detach(id);
      Status got = c.detach(id);
      RC_ASSERT((got.ok() ? 0 : got.error().code) == want);
    } else {
      if (m.groups.empty()) continue;
      uint64_t off = *rc::gen::inRange<uint64_t>(0, 16) * 0x1000 +
                     *rc::gen::element(uint64_t{0}, uint64_t{0}, uint64_t{0}, uint64_t{0x800});
      uint64_t size = *rc::gen::inRange<uint64_t>(0, 5) * 0x1000;
      int want = m.map(off, size);
      Status got = c.map_dma(m.base + off, size);
      RC_ASSERT((got.ok() ? 0 : got.error().code) == want);
    }
    RC_ASSERT(c.iova_list() == runs(m.list, m.base));
    RC_ASSERT(c.mappings().size() == m.nmaps);
  }
}

// Before v6.18 the overlap search wraps at 2^64-1 (see the file comment of vfio_type1.h):
// the container's indexed search must give the verdicts of the kernel's plain walk over every
// mapping, here a brute-force list, for mappings crowded at the top of the space.
RC_GTEST_PROP(Type1, OverlapSearchMatchesALinearWalkBefore618, ()) {
  const KernelVersion kernel = *rc::gen::element(KernelVersion{6, 12}, KernelVersion{6, 18});
  const bool fixed = kernel >= KernelVersion{6, 18};
  Type1Container c(kernel, 1000);
  Type1Group g{.id = 1, .aperture = Range::all(), .pgsize_bitmap = 0x1000, .domain_key = "a"};
  RC_ASSERT(c.attach(g).ok());
  std::vector<Type1Mapping> walk;  // every accepted mapping, as vfio_find_dma would visit them
  auto walk_finds = [&](uint64_t start, uint64_t size) {
    for (const Type1Mapping& d : walk) {
      bool left = fixed ? start + size - 1 < d.iova : start + size <= d.iova;
      bool right = fixed ? start > d.iova + d.size - 1 : start >= d.iova + d.size;
      if (!left && !right) return true;
    }
    return false;
  };
  int steps = *rc::gen::inRange(1, 40);
  for (int i = 0; i < steps; ++i) {
    // Pages in the top 64 KiB, sizes of 1 to 8 pages, some ending exactly at 2^64-1.
    uint64_t page = *rc::gen::inRange<uint64_t>(0, 16);
    uint64_t pages = *rc::gen::inRange<uint64_t>(1, 9);
    uint64_t iova = kMaxAddress - 0xffff + page * 0x1000;
    uint64_t size = std::min<u128>(pages * 0x1000, u128{kMaxAddress} - iova + 1);
    Status got = c.map_dma(iova, size);
    bool exists = walk_finds(iova, size);
    RC_ASSERT((!got.ok() && got.error().code == EEXIST) == exists);
    if (got.ok()) walk.push_back(Type1Mapping{iova, size});
    RC_ASSERT(c.mapping_count() == walk.size());
  }
}

}  // namespace
}  // namespace iovamap
