// verify_host without a kernel to ask: every path must stop cleanly with an error that says
// what kind it is and why. The roots are real snapshots from the lab (tests/data/lab-*/root).
#include "iovamap/verify.h"

#include <gtest/gtest.h>

namespace iovamap {
namespace {

std::string data(const std::string& rel) {
  return std::string(IOVAMAP_TEST_DATA) + "/" + rel;
}

LoadedHost snapshot(const std::string& rel) {
  Result<LoadedHost> h = load_host({.source = HostSource::kSnapshot, .path = data(rel)});
  if (!h) ADD_FAILURE() << h.error().message;
  return h ? std::move(*h) : LoadedHost{};
}

TEST(VerifyHost, NoIommuIsASystemError) {
  Result<VerifyReport> r = verify_host(snapshot("lab-noiommu-612/root"), {0}, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kSystem);
  EXPECT_NE(r.error().message.find("no IOMMU groups"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("lab-noiommu-612/root/sys/kernel/iommu_groups"),
            std::string::npos)
      << r.error().message;
}

TEST(VerifyHost, NoVfioIsASystemError) {
  Result<VerifyReport> r =
      verify_host(snapshot("lab-intel39-612/root"), {7}, {.dev_dir = "/nonexistent"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kSystem);
  EXPECT_NE(r.error().message.find("/nonexistent/vfio/vfio: No such file or directory"),
            std::string::npos)
      << r.error().message;
}

TEST(VerifyHost, UnknownGroupsAndTopologiesAreInputErrors) {
  LoadedHost h = snapshot("lab-intel39-612/root");
  Result<VerifyReport> unknown = verify_host(h, {99}, {});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::kInput);
  EXPECT_NE(unknown.error().message.find("no IOMMU group 99"), std::string::npos);
  Result<VerifyReport> none = verify_host(h, {}, {});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::kInput);
  h.source = HostSource::kTopology;
  Result<VerifyReport> topology = verify_host(h, {7}, {});
  ASSERT_FALSE(topology);
  EXPECT_NE(topology.error().message.find("topology"), std::string::npos);
}

}  // namespace
}  // namespace iovamap
