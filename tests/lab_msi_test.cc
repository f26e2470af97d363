// MSI isolation against real kernels: in every lab guest, with allow_unsafe_interrupts off in
// both modules, the kernel was asked whether it still takes each group opened through VFIO
// (tests/lab/guest/init: a type1 container, and an iommufd bind and attach where the kernel
// has iommufd; expected/attach.<g>). The model, given the fixture's snapshot and both
// parameters off, must give the same verdict: EPERM where MSIs are not isolated (x86 with a
// virtio-iommu: no interrupt remapping), OK where they are (Intel and AMD with intremap=on,
// arm64 with a GICv3 ITS). On AMD the model's reason, the driver's southbridge IO-APIC rule
// over the IVRS, must also predict what the interrupt chips show. See include/iovamap/msi.h
// and docs/kernel-rules.md.
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "iovamap/container.h"
#include "iovamap/discovery.h"
#include "iovamap/firmware.h"
#include "iovamap/msi.h"
#include "iovamap/sysfs_reader.h"
#include "lab_data.h"

namespace iovamap {
namespace {

namespace fs = std::filesystem;
using lab::lab_dirs;
using lab::slurp;
using lab::verdict;
using lab::verdicts;

TEST(LabMsi, TheModelRefusesWhereTheKernelRefuses) {
  int fixtures = 0, with_verdicts = 0, refused = 0, taken = 0, amd_off = 0, amd_on = 0;
  for (const fs::path& dir : lab_dirs()) {
    std::string name = dir.filename().string();
    if (name.find("noiommu") != std::string::npos) continue;
    ++fixtures;
    std::string params = slurp(dir / "expected/attach.params");
    if (params.empty()) {
      ADD_FAILURE() << name << ": no expected/attach.params (re-run the lab for this config)";
      continue;
    }
    ++with_verdicts;
    // The guest switched both parameters off (a module without the file is not there).
    EXPECT_EQ(params.find(" Y"), std::string::npos) << name << ": " << params;
    auto reader = open_root_reader((dir / "root").string());
    ASSERT_TRUE(reader) << name;
    Result<Discovery> d = discover(**reader, "lab " + name);
    ASSERT_TRUE(d) << name << ": " << d.error().message;
    Host host = d->host;
    host.type1_allow_unsafe_interrupts = false;
    host.iommufd_allow_unsafe_interrupts = false;
    // AMD: the driver's boot-time rule over the IVRS (and ivrs_ioapic on the command line)
    // predicts what the interrupt chips show, remapping on or off, on every kernel.
    Result<Firmware> fw = read_firmware(**reader);
    ASSERT_TRUE(fw) << name << ": " << fw.error().message;
    host.firmware = *fw;
    if (std::optional<AmdIntremapCheck> amd = amd_intremap_check(host); amd && host.msi) {
      EXPECT_EQ(amd->remapping_off, !host.msi->isolated)
          << name << ": " << amd->why << "; the chips: " << host.msi->source;
      (amd->remapping_off ? amd_off : amd_on)++;
    }
    std::istringstream groups(slurp(dir / "expected/vfio_groups"));
    uint32_t g = 0;
    int seen = 0;
    while (groups >> g) {
      ++seen;
      std::map<std::string, std::string> kernel =
          verdicts(slurp(dir / ("expected/attach." + std::to_string(g))));
      ASSERT_TRUE(kernel.count("type1")) << name << " group " << g;
      const Group* group = host.find_group(g);
      ASSERT_NE(group, nullptr) << name << " group " << g;
      MsiVerdict msi = group_msi_isolation(host, *group);
      // The interrupt chips tell in every guest: IO-APIC or IR-IO-APIC on x86, and on arm64
      // the PCIe ports' ITS-MSI vectors (nothing is assumed).
      EXPECT_TRUE(msi.known) << name << ": " << msi.why;
      Result<Type1Model> type1 = model_type1(host, {g}, Policy::kKernel);
      std::string model = verdict(type1 ? 0 : type1.error().code);
      EXPECT_EQ(kernel["type1"], model)
          << name << " group " << g << ": MSIs " << (msi.isolated ? "isolated" : "not isolated")
          << " (" << msi.why << ")" << (type1 ? "" : "; model: " + type1.error().message);
      (kernel["type1"] == "EPERM" ? refused : taken)++;
      if (kernel.count("iommufd")) {
        Result<IoasModelResult> fd = model_iommufd(host, {g}, Policy::kKernel);
        EXPECT_EQ(kernel["iommufd"], verdict(fd ? 0 : fd.error().code))
            << name << " group " << g << " (iommufd)"
            << (fd ? "" : "; model: " + fd.error().message);
      }
    }
    EXPECT_GT(seen, 0) << name;
  }
  EXPECT_GT(fixtures, 0);
  EXPECT_EQ(with_verdicts, fixtures);
  // Both answers occur in the fixtures, so neither side can pass by always saying one thing.
  EXPECT_GT(refused, 0);
  EXPECT_GT(taken, 0);
  // In the kept fixtures amd-7x (7.3 under QEMU's IVRS) has remapping off and the older
  // kernels on (a fresh lab run of a subset may have neither).
  if (!lab::fresh_results()) {
    EXPECT_GT(amd_off, 0);
    EXPECT_GT(amd_on, 0);
  }
}

}  // namespace
}  // namespace iovamap
