// Assignability against real kernels: in every lab guest, with allow_unsafe_interrupts off in
// both modules, the kernel was asked whether it takes each group that has a /dev/vfio node
// (tests/lab/guest/init: a type1 container, and an iommufd bind and attach where the kernel
// has iommufd; expected/attach.<g>), the groups it refused outright included
// (expected/vfio_refused: a firmware 1:1 region, EINVAL from 6.6; Intel's RMRR lock, EPERM
// before). assess_assignment (include/iovamap/assignability.h, what `iovamap assignable`
// prints) must give the same verdict for every one of them: accepted where the kernel said OK,
// and where it refused, a blocking finding whose errno is the kernel's.
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "iovamap/assignability.h"
#include "iovamap/discovery.h"
#include "iovamap/policy.h"
#include "iovamap/sysfs_reader.h"
#include "lab_data.h"

namespace iovamap {
namespace {

namespace fs = std::filesystem;
using lab::lab_dirs;
using lab::slurp;
using lab::verdict;
using lab::verdicts;

// The model's verdict: the errno of the first blocking finding, in the kernel's order.
std::string model_verdict(const AssignReport& r) {
  for (const AssignFinding& f : r.findings)
    if (f.blocks) return verdict(f.error_number);
  return "OK";
}

std::string findings_text(const AssignReport& r) {
  std::string out;
  for (const AssignFinding& f : r.findings)
    out += "; " + std::string(assign_rule_name(f.rule)) + " " + f.device + ": " + f.evidence;
  return out;
}

std::vector<uint32_t> numbers(const std::string& text) {
  std::vector<uint32_t> out;
  std::istringstream in(text);
  uint32_t g = 0;
  while (in >> g) out.push_back(g);
  return out;
}

TEST(LabAssign, TheModelAcceptsAndRefusesWhereTheKernelDoes) {
  int judged = 0, accepted = 0, firmware_refused = 0;
  for (const fs::path& dir : lab_dirs()) {
    std::string name = dir.filename().string();
    if (name.find("noiommu") != std::string::npos) continue;
    auto reader = open_root_reader((dir / "root").string());
    ASSERT_TRUE(reader) << name;
    Result<Discovery> d = discover(**reader, "lab " + name);
    ASSERT_TRUE(d) << name << ": " << d.error().message;
    Host host = d->host;
    // The probe ran with both parameters off (lab_msi_test checks attach.params says so).
    host.type1_allow_unsafe_interrupts = false;
    host.iommufd_allow_unsafe_interrupts = false;
    // Regions the model does not derive (yet) stay in the groups as observed, with their kernel
    // types: the firmware-direct rule must see them as the kernel did.
    explain_observed_regions(host);
    std::vector<uint32_t> groups = numbers(slurp(dir / "expected/vfio_groups"));
    std::vector<uint32_t> refused = numbers(slurp(dir / "expected/vfio_refused"));
    groups.insert(groups.end(), refused.begin(), refused.end());
    for (uint32_t g : groups) {
      std::string where = name + " group " + std::to_string(g);
      std::map<std::string, std::string> kernel =
          verdicts(slurp(dir / ("expected/attach." + std::to_string(g))));
      ASSERT_TRUE(kernel.count("type1")) << where << ": no attach verdict";
      Result<AssignReport> type1 = assess_assignment(host, {g}, ContainerRules::kType1);
      ASSERT_TRUE(type1) << where << ": " << type1.error().message;
      EXPECT_EQ(kernel["type1"], model_verdict(*type1)) << where << findings_text(*type1);
      ++judged;
      if (kernel["type1"] == "OK") ++accepted;
      for (const AssignFinding& f : type1->findings)
        if (f.blocks &&
            (f.rule == AssignRule::kFirmwareDirect || f.rule == AssignRule::kRmrrLocked) &&
            kernel["type1"] != "OK") {
          ++firmware_refused;
          break;
        }
      if (kernel.count("iommufd")) {
        Result<AssignReport> fd = assess_assignment(host, {g}, ContainerRules::kIommufd);
        ASSERT_TRUE(fd) << where << ": " << fd.error().message;
        EXPECT_EQ(kernel["iommufd"], model_verdict(*fd))
            << where << " (iommufd)" << findings_text(*fd);
      }
    }
    // A group the kernel refused outright is one the guest could not open through VFIO.
    for (uint32_t g : refused) {
      EXPECT_NE(slurp(dir / ("expected/attach." + std::to_string(g))).find("type1 E"),
                std::string::npos)
          << name << " group " << g << " was refused at open but took the strict attach";
    }
  }
  EXPECT_GT(judged, 0);
  EXPECT_GT(accepted, 0);
  // The firmware-table configurations (tests/lab/configs.sh acpi_override) bring refusals for
  // firmware 1:1 regions: without them this test could pass by never refusing for that reason
  // (a fresh lab run of a subset may have none).
  if (!lab::fresh_results()) {
    EXPECT_GT(firmware_refused, 0);
  }
}

}  // namespace
}  // namespace iovamap
