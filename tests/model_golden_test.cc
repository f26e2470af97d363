// The whole model against real kernels: each bundled snapshot (tests/data/snapshots, captured
// from Debian 6.12 kernels under QEMU) is discovered from its sysfs files, and the model must
// print every group's reserved_regions byte for byte, give the page sizes VFIO reported, and the
// VFIO type1 ranges of a container holding that group.
//
// On Intel and AMD the model gets only what sysfs shows: no observed region is fed back. A
// virtio-iommu's regions come from its PROBE replies, which sysfs does not show (QEMU reports
// the x86 MSI window there, so the driver adds no SW_MSI window); for it the observed regions
// are fed back through explain_observed_regions(), and the test checks that this was needed.
#include <gtest/gtest.h>

#include <filesystem>

#include "iovamap/container.h"
#include "iovamap/discovery.h"
#include "iovamap/policy.h"
#include "iovamap/sysfs_reader.h"
#include "iovamap/vfio_info.h"
#include "lab_data.h"

namespace iovamap {
namespace {

namespace fs = std::filesystem;

using lab::slurp;

class SnapshotGolden : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fs::path(IOVAMAP_TEST_DATA) / "snapshots" / GetParam();
    auto reader = open_root_reader((dir_ / "root").string());
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    auto d = discover(**reader, "snapshot " + GetParam());
    ASSERT_TRUE(d.ok()) << d.error().message;
    host_ = std::move(d->host);
    ASSERT_FALSE(host_.groups.empty());
    if (GetParam().find("virtio") != std::string::npos) {
      EXPECT_EQ(explain_observed_regions(host_).size(), host_.groups.size());
    }
  }
  // Group ids with a file `prefix`<id> in expected/.
  std::vector<uint32_t> groups_with(const std::string& prefix) {
    std::vector<uint32_t> ids;
    for (const auto& e : fs::directory_iterator(dir_ / "expected")) {
      std::string name = e.path().filename().string();
      if (name.rfind(prefix, 0) == 0) ids.push_back(std::stoul(name.substr(prefix.size())));
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  fs::path dir_;
  Host host_;
};

TEST_P(SnapshotGolden, ReservedRegionsByteForByte) {
  auto ids = groups_with("reserved_regions.");
  ASSERT_FALSE(ids.empty());
  for (uint32_t id : ids) {
    const Group* g = host_.find_group(id);
    ASSERT_NE(g, nullptr) << "group " << id;
    Result<GroupModel> m = model_group(host_, *g, Policy::kKernel);
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ(m->regions.to_sysfs(),
              slurp(dir_ / "expected" / ("reserved_regions." + std::to_string(id))))
        << GetParam() << " group " << id;
  }
}

TEST_P(SnapshotGolden, PageSizesAsVfioReported) {
  for (uint32_t id : groups_with("iova_pgsizes.")) {
    const Group* g = host_.find_group(id);
    ASSERT_NE(g, nullptr) << "group " << id;
    Result<GroupModel> m = model_group(host_, *g, Policy::kKernel);
    ASSERT_TRUE(m.ok()) << m.error().message;
    std::string want = slurp(dir_ / "expected" / ("iova_pgsizes." + std::to_string(id)));
    if (!m->page_sizes) {
      // virtio-iommu's page_size_mask is not in sysfs: the model must say so, not guess.
      EXPECT_EQ(driver_name(host_.iommu_of(*g)->driver), "virtio") << GetParam();
      continue;
    }
    char got[32];
    std::snprintf(got, sizeof got, "0x%016llx\n", static_cast<unsigned long long>(*m->page_sizes));
    EXPECT_EQ(got, want) << GetParam() << " group " << id;
  }
}

TEST_P(SnapshotGolden, VfioType1RangesByteForByte) {
  auto ids = groups_with("vfio_ranges.");
  ASSERT_FALSE(ids.empty());
  for (uint32_t id : ids) {
    Result<Type1Model> m = model_type1(host_, {id}, Policy::kKernel);
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ(to_sysfs_lines(m->container.iova_list()),
              slurp(dir_ / "expected" / ("vfio_ranges." + std::to_string(id))))
        << GetParam() << " group " << id;
  }
}

// lab.md: after attaching the device, an iommufd IOAS reports exactly the type1 ranges, with
// alignment 4 KiB.
TEST_P(SnapshotGolden, IommufdIoasMatchesVfioRanges) {
  for (uint32_t id : groups_with("vfio_ranges.")) {
    Result<IoasModelResult> m = model_iommufd(host_, {id}, Policy::kKernel);
    ASSERT_TRUE(m.ok()) << m.error().message;
    IovaRangesReply reply = m->ioas.iova_ranges(16);
    EXPECT_TRUE(reply.status.ok());
    EXPECT_EQ(to_sysfs_lines(reply.ranges),
              slurp(dir_ / "expected" / ("vfio_ranges." + std::to_string(id))))
        << GetParam() << " group " << id;
    EXPECT_EQ(reply.alignment, 0x1000u);
  }
}

INSTANTIATE_TEST_SUITE_P(RealKernels, SnapshotGolden,
                         ::testing::Values("6.12-intel39", "6.12-amd", "6.12-virtio"),
                         [](const auto& test_info) {
                           std::string n = test_info.param;
                           for (char& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace iovamap
