// The whole model against real kernels: for every lab fixture (tests/data/lab-<config>/, or
// IOVAMAP_LAB_RESULTS for a fresh lab run) read the snapshot with discovery, model every group
// under the kernel policy (driver regions, group insertion, aperture, page sizes), and compare
// with what the kernel answered: reserved_regions byte for byte, and for each group opened
// through VFIO the usable ranges (aperture minus every non-relaxable region) and iova_pgsizes.
// Nothing here copies the kernel's answer into the model, except virtio-iommu PROBE regions
// (not in sysfs; see model_fixture), and for any other IOMMU the test fails if it had to.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "iovamap/container.h"
#include "iovamap/discovery.h"
#include "iovamap/firmware.h"
#include "iovamap/firmware_match.h"
#include "iovamap/iommu_driver.h"
#include "iovamap/policy.h"
#include "iovamap/range_set.h"
#include "iovamap/sysfs_reader.h"
#include "lab_data.h"
#include "vfio_live.h"

namespace iovamap {
namespace {

namespace fs = std::filesystem;
using lab::lab_dirs;
using lab::slurp;

struct Modelled {
  Host host;
  std::vector<std::pair<uint32_t, Result<GroupModel>>> groups;
};

// iova_pgsizes as the lab wrote it (hex) against the model's bitmap.
void expect_page_sizes(uint64_t model, const std::string& kernel_file, const std::string& where) {
  EXPECT_EQ(hex(model), hex(std::stoull(kernel_file, nullptr, 16))) << where;
}

Modelled model_fixture(const fs::path& dir) {
  auto reader = open_root_reader((dir / "root").string());
  EXPECT_TRUE(reader) << dir;
  auto d = discover(**reader, "lab " + dir.filename().string());
  EXPECT_TRUE(d) << dir << ": " << (d ? "" : d.error().message);
  Modelled m;
  if (!d) return m;
  m.host = d->host;
  // The firmware tables the kernel read (the firmware-table configurations upgrade QEMU's),
  // matched to the devices as the host loader does, before anything is taken as observed.
  auto firmware = read_firmware(**reader);
  EXPECT_TRUE(firmware) << dir << ": " << (firmware ? "" : firmware.error().message);
  if (firmware) m.host.firmware = std::move(*firmware);
  match_firmware_regions(m.host,
                         {.pci_boot_config_preserved = lab::pci_boot_config_preserved(dir)});
  // virtio-iommu regions come from the device's PROBE reply, which sysfs does not show: only
  // there may the observed regions be taken as firmware input. QEMU's virtio-iommu on x86
  // probes the MSI window [0xfee00000, 0xfeefffff] as msi, so the driver adds no SW_MSI.
  bool virtio = !m.host.iommus.empty() && m.host.iommus.front().driver == "virtio";
  std::vector<ObservedNote> explained = explain_observed_regions(m.host);
  if (!virtio) {
    EXPECT_TRUE(explained.empty()) << dir << ": the driver model left regions unexplained: "
                                   << (explained.empty() ? "" : explained.front().message);
  }
  for (const Group& g : m.host.groups) {
    m.groups.emplace_back(g.id, model_group(m.host, g, Policy::kKernel));
  }
  return m;
}

TEST(LabModel, ReservedRegionsMatchTheKernelByteForByte) {
  int seen = 0;
  for (const auto& dir : lab_dirs()) {
    Modelled m = model_fixture(dir);
    for (auto& [id, model] : m.groups) {
      ASSERT_TRUE(model) << dir << " group " << id << ": " << model.error().message;
      fs::path file = dir / "expected" / ("reserved_regions." + std::to_string(id));
      EXPECT_EQ(model->regions.to_sysfs(), slurp(file))
          << dir.filename() << " group " << id << " (kernel " << m.host.kernel.major << "."
          << m.host.kernel.minor << ")";
      ++seen;
    }
  }
  EXPECT_GT(seen, 0);
}

// For each group VFIO opened alone: the kernel's usable list equals the model's aperture
// minus the model's non-relaxable regions, and iova_pgsizes equals the model's page sizes.
TEST(LabModel, VfioRangesAndPageSizesMatchTheModel) {
  int seen = 0;
  for (const auto& dir : lab_dirs()) {
    Modelled m = model_fixture(dir);
    for (auto& [id, model] : m.groups) {
      fs::path ranges_file = dir / "expected" / ("vfio_ranges." + std::to_string(id));
      if (!fs::exists(ranges_file) || !model) continue;
      std::string where = dir.filename().string() + " group " + std::to_string(id);
      ASSERT_TRUE(model->aperture) << where << ": no aperture derived";
      RangeSet usable{model->aperture->range};
      for (const auto& r : model->regions.regions()) {
        if (r.type != RegionType::kDirectRelaxable) usable.remove(r.range());
      }
      EXPECT_EQ(format_vfio_ranges(usable.ranges()), slurp(ranges_file))
          << where << " aperture " << to_string(model->aperture->range) << " ("
          << model->aperture->provenance.detail << ")";
      fs::path pg_file = dir / "expected" / ("iova_pgsizes." + std::to_string(id));
      if (!model->page_sizes && m.host.iommus.front().driver == "virtio") {
        // The virtio-iommu page_size_mask is not in sysfs; the model says unknown.
        continue;
      }
      ASSERT_TRUE(model->page_sizes) << where << ": no page sizes derived";
      expect_page_sizes(*model->page_sizes, slurp(pg_file), where);
      ++seen;
    }
  }
  EXPECT_GT(seen, 0);
}

}  // namespace
}  // namespace iovamap

namespace iovamap {
namespace {

std::vector<uint32_t> tag_groups(const fs::path& dir, const std::string& tag) {
  std::vector<uint32_t> ids;
  if (tag != "all") return {static_cast<uint32_t>(std::stoul(tag))};
  std::istringstream in(slurp(dir / "expected" / "vfio_groups"));
  uint32_t id = 0;
  while (in >> id) ids.push_back(id);
  return ids;
}

// Every container the lab opened (each group alone, and all groups in one container): the
// model's type1 container reports the kernel's list node for node and its page sizes; on the
// built kernel the model's IOAS reports the kernel's IOVA_RANGES and alignment.
TEST(LabModel, ContainersMatchTheKernel) {
  int seen = 0;
  for (const auto& dir : lab_dirs()) {
    Modelled m = model_fixture(dir);
    for (const auto& e : fs::directory_iterator(dir / "expected")) {
      std::string name = e.path().filename().string();
      if (name.rfind("vfio_ranges.", 0) != 0) continue;
      std::string tag = name.substr(12);
      std::string where = dir.filename().string() + " container " + tag;
      auto ids = tag_groups(dir, tag);
      auto model = model_type1(m.host, ids, Policy::kKernel);
      ASSERT_TRUE(model) << where << ": " << model.error().message;
      EXPECT_EQ(format_vfio_ranges(model->container.iova_list()), slurp(e.path())) << where;
      bool virtio = m.host.iommus.front().driver == "virtio";
      if (!virtio) {  // virtio-iommu page sizes are not in sysfs (the model assumes 4 KiB)
        expect_page_sizes(model->container.pgsize_bitmap(),
                          slurp(dir / "expected" / ("iova_pgsizes." + tag)), where);
      }
      fs::path ioas_file = dir / "expected" / ("iommufd_ranges." + tag);
      if (fs::exists(ioas_file)) {
        auto ioas = model_iommufd(m.host, ids, Policy::kKernel);
        ASSERT_TRUE(ioas) << where << ": " << ioas.error().message;
        IovaRangesReply r = ioas->ioas.iova_ranges(~uint32_t{0});
        EXPECT_EQ(format_vfio_ranges(r.ranges) + "alignment " + hex(r.alignment) + "\n",
                  slurp(ioas_file))
            << where;
      }
      ++seen;
    }
  }
  EXPECT_GT(seen, 0);
}

}  // namespace
}  // namespace iovamap
