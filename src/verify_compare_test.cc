#include "verify_compare.h"

#include <gtest/gtest.h>

#include <sstream>

namespace iovamap {
namespace {

// A kernel that answers like the Intel aw-bits=39 guest in the lab (tests/data/lab-intel39-*):
// GET_INFO ranges around the MSI window, MAP_DMA accepted inside one range only.
class FakeKernel : public LiveType1 {
 public:
  std::vector<Range> ranges = {{0, 0xfedfffff}, {0xfef00000, 0x7fffffffff}};
  uint64_t pgsizes = 0x40201000;
  bool fail_info = false;
  std::vector<uint64_t> probed;

  Result<Type1Info> get_info() override {
    if (fail_info) return make_error(EACCES, "/dev/vfio/vfio: Permission denied");
    Type1Info info;
    info.iova_pgsizes = pgsizes;
    info.iova_ranges = ranges;
    info.has_iova_ranges = true;
    info.raw = {1, 2, 3};
    return info;
  }
  Result<VfioType1Session::Probe> probe_map(uint64_t iova, uint64_t size) override {
    probed.push_back(iova);
    return VfioType1Session::Probe{type1_map_verdict(ranges, pgsizes, iova, size), false};
  }
};

const std::vector<Range> kMsi = {{0xfee00000, 0xfeefffff}};

TEST(VerifyType1, AgreementPassesAndProbesEveryBoundary) {
  FakeKernel kernel;
  Type1Prediction model{kernel.ranges, kernel.pgsizes, std::vector<uint8_t>{1, 2, 3}};
  auto report = verify_type1(kernel, model, kMsi, true);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(report->ok());
  // ranges, page sizes, reply bytes, then 7 probes (see Type1ProbePoints).
  EXPECT_EQ(report->checks.size(), 3u + 7u);
  EXPECT_EQ(kernel.probed.size(), 7u);
  EXPECT_EQ(kernel.probed.back(), 0x8000000000u);  // ascending: the top page goes last
}

TEST(VerifyType1, MismatchShowsBothSides) {
  FakeKernel kernel;
  // A model that forgot the MSI window: ranges differ, and MAP_DMA at 0xfee00000 differs.
  Type1Prediction model{{{0, 0x7fffffffff}}, kernel.pgsizes, std::nullopt};
  auto report = verify_type1(kernel, model, kMsi, true);
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->ok());
  auto find = [&](const std::string& what) -> const Check* {
    for (const Check& c : report->checks)
      if (c.what == what) return &c;
    return nullptr;
  };
  const Check* ranges = find("VFIO IOVA ranges");
  ASSERT_NE(ranges, nullptr);
  EXPECT_FALSE(ranges->ok);
  EXPECT_EQ(ranges->kernel, "[0x0, 0xfedfffff], [0xfef00000, 0x7fffffffff]");
  EXPECT_EQ(ranges->model, "[0x0, 0x7fffffffff]");
  const Check* msi = find("MAP_DMA 0x00000000fee00000");
  ASSERT_NE(msi, nullptr);
  EXPECT_FALSE(msi->ok);
  EXPECT_EQ(msi->kernel, "rejected (EINVAL)");
  EXPECT_EQ(msi->model, "accepted");
  const Check* low = find("MAP_DMA 0x0000000000000000");
  ASSERT_NE(low, nullptr);
  EXPECT_TRUE(low->ok);
  EXPECT_EQ(low->kernel, "accepted");
}

TEST(VerifyType1, ReplyBytesAndPageSizesCompared) {
  FakeKernel kernel;
  Type1Prediction model{kernel.ranges, 0x1000, std::vector<uint8_t>{1, 2, 4}};
  auto report = verify_type1(kernel, model, {}, false);
  ASSERT_TRUE(report);
  ASSERT_EQ(report->checks.size(), 3u);
  EXPECT_FALSE(report->checks[1].ok);
  EXPECT_EQ(report->checks[1].kernel, "0x40201000");
  EXPECT_FALSE(report->checks[2].ok);
  EXPECT_EQ(report->checks[2].kernel, "01 02 03");
  EXPECT_TRUE(kernel.probed.empty());  // no --probe, no mapping
}

TEST(VerifyType1, UndefinedReplyBytesAndAModelVerdictFunction) {
  FakeKernel kernel;
  Type1Prediction model{kernel.ranges, kernel.pgsizes, std::vector<uint8_t>{1, 9, 3}};
  model.reply_undefined = {{1, 1}};  // byte 1 is stack garbage in the kernel's reply
  int asked = 0;
  model.map_verdict = [&](uint64_t iova, uint64_t size) {
    ++asked;
    return type1_map_verdict(kernel.ranges, kernel.pgsizes, iova, size);
  };
  auto report = verify_type1(kernel, model, kMsi, true);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(asked, 7);
  model.reply_undefined.clear();
  auto strict = verify_type1(kernel, model, kMsi, false);
  ASSERT_TRUE(strict);
  EXPECT_FALSE(strict->ok());
}

TEST(VerifyType1, UnknownPageSizesAreSkippedNotJudged) {
  FakeKernel kernel;
  Type1Prediction model{.ranges = kernel.ranges, .iova_pgsizes = 0x1000};
  model.pgsizes_known = false;
  auto report = verify_type1(kernel, model, {}, false);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok());
  ASSERT_GE(report->checks.size(), 2u);
  EXPECT_TRUE(report->checks[1].skipped);
  EXPECT_EQ(report->checks[1].what, "iova_pgsizes");
  EXPECT_EQ(report->checks[1].kernel, "0x40201000");
  EXPECT_EQ(report->checks[1].model, "unknown (not in sysfs)");
  model.pgsizes_known = true;  // now 0x1000 is a claim, and a wrong one
  EXPECT_FALSE(verify_type1(kernel, model, {}, false)->ok());
}

TEST(VerifyType1, KernelErrorsPropagate) {
  FakeKernel kernel;
  kernel.fail_info = true;
  auto report = verify_type1(kernel, {}, {}, true);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, EACCES);
}

TEST(VerifyIommufd, ComparesRangesAndAlignment) {
  IoasRanges kernel{{{0, 0xfedfffff}, {0xfef00000, kMaxAddress}}, 0x1000};
  EXPECT_TRUE(verify_iommufd(kernel, {kernel.ranges, 0x1000}).ok());
  auto bad = verify_iommufd(kernel, {kernel.ranges, 1});
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.checks[1].kernel, "0x1000");
  EXPECT_EQ(bad.checks[1].model, "0x1");
}

}  // namespace
}  // namespace iovamap
