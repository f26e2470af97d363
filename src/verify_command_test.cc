#include "verify_command.h"

#include "iovamap/cli.h"

#include <gtest/gtest.h>

#include <sstream>

namespace iovamap {
namespace {

// Without a kernel to ask, every path must stop cleanly with exit 2 and say why. The roots are
// real snapshots from the lab (tests/data/lab-*/root).
std::string data(const std::string& rel) {
  return std::string(IOVAMAP_TEST_DATA) + "/" + rel;
}

int run(VerifyOptions o, std::string* err_text) {
  std::ostringstream out, err;
  int status = run_verify(o, out, err);
  *err_text = err.str();
  return status;
}

TEST(RunVerify, NoIommuSaysSoAndExits2) {
  std::string err;
  EXPECT_EQ(run({.groups = {"0"}, .root = data("lab-noiommu-612/root")}, &err), 2);
  EXPECT_NE(err.find("no IOMMU groups"), std::string::npos) << err;
  EXPECT_NE(err.find("lab-noiommu-612/root/sys/kernel/iommu_groups"), std::string::npos) << err;
}

TEST(RunVerify, NoVfioSaysSoAndExits2) {
  std::string err;
  VerifyOptions o{.groups = {"7"}, .root = data("lab-intel39-612/root"), .dev_dir = "/nonexistent"};
  EXPECT_EQ(run(o, &err), 2);
  EXPECT_NE(err.find("/nonexistent/vfio/vfio: No such file or directory"), std::string::npos)
      << err;
}

TEST(RunVerify, BadOrUnknownGroupsExit2) {
  std::string err;
  EXPECT_EQ(run({.groups = {"x7"}, .root = data("lab-intel39-612/root")}, &err), 2);
  EXPECT_NE(err.find("'x7' is not an IOMMU group number"), std::string::npos) << err;
  EXPECT_EQ(run({.groups = {"99"}, .root = data("lab-intel39-612/root")}, &err), 2);
  EXPECT_NE(err.find("no IOMMU group 99"), std::string::npos) << err;
  EXPECT_EQ(run({.groups = {}, .root = data("lab-intel39-612/root")}, &err), 2);
  EXPECT_EQ(run({.groups = {"7"}, .root = "/nonexistent-root"}, &err), 2);
}

TEST(RunVerify, TheCliSubcommandReachesIt) {
  std::istringstream in;
  std::ostringstream out, err;
  std::vector<std::string> args = {"iovamap", "--root",  data("lab-noiommu-612/root"),
                                   "verify",  "--probe", "0"};
  EXPECT_EQ(run_cli(args, in, out, err), 2);
  EXPECT_NE(err.str().find("iovamap verify: no IOMMU groups"), std::string::npos) << err.str();
}

}  // namespace
}  // namespace iovamap
