#include "vfio_live.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstring>
#include <vector>

namespace iovamap {
namespace {

constexpr uint64_t kPage = 0x1000;

// Builds a GET_INFO reply the way the kernel lays it out: header, then migration (id 2),
// dma-avail (id 3) and iova-range (id 1) capabilities; `aligned` puts each capability on an
// 8-byte boundary (kernels with the 2023 alignment change), else packed (6.1).
std::vector<uint8_t> make_reply(const std::vector<Range>& ranges, bool aligned) {
  std::vector<uint8_t> b(24, 0);
  auto put32 = [&](size_t at, uint32_t v) { std::memcpy(&b[at], &v, 4); };
  auto put64 = [&](size_t at, uint64_t v) { std::memcpy(&b[at], &v, 8); };
  auto put16 = [&](size_t at, uint16_t v) { std::memcpy(&b[at], &v, 2); };
  auto add_cap = [&](uint16_t id, size_t size) {
    size_t at = b.size();
    if (aligned) at = (at + 7) & ~size_t{7};
    b.resize(at + size, 0);
    put16(at, id);
    put16(at + 2, 1);
    return at;
  };
  put32(4, 3);
  put64(8, 0x40201000);
  size_t mig = add_cap(2, 32);
  put64(mig + 16, 0x40201000);
  size_t avail = add_cap(3, 12);
  put32(avail + 8, 65535);
  size_t iova = add_cap(1, 16 + 16 * ranges.size());
  put32(iova + 8, static_cast<uint32_t>(ranges.size()));
  for (size_t i = 0; i < ranges.size(); ++i) {
    put64(iova + 16 + 16 * i, ranges[i].first);
    put64(iova + 24 + 16 * i, ranges[i].last);
  }
  put32(16, static_cast<uint32_t>(mig));
  put32(mig + 4, static_cast<uint32_t>(avail));
  put32(avail + 4, static_cast<uint32_t>(iova));
  put32(0, static_cast<uint32_t>(b.size()));
  return b;
}

const std::vector<Range> kIntel39 = {{0, 0xfedfffff}, {0xfef00000, 0x7fffffffff}};

TEST(ParseType1Info, PackedAndAlignedLayouts) {
  for (bool aligned : {false, true}) {
    auto reply = make_reply(kIntel39, aligned);
    auto info = parse_type1_info(reply);
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->iova_pgsizes, 0x40201000u);
    EXPECT_TRUE(info->has_iova_ranges);
    EXPECT_EQ(info->iova_ranges, kIntel39);
    ASSERT_EQ(info->caps.size(), 3u);
    EXPECT_EQ(info->caps[2].offset, aligned ? 72u : 68u);  // the spec digest's offsets
    EXPECT_EQ(info->dma_avail, 65535u);
    EXPECT_EQ(info->migration_pgsizes, 0x40201000u);
    EXPECT_EQ(info->argsz, reply.size());
  }
}

TEST(ParseType1Info, FullSpaceRangeAndNoCaps) {
  auto reply = make_reply({Range::all()}, true);
  auto info = parse_type1_info(reply);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->iova_ranges, std::vector<Range>{Range::all()});

  std::vector<uint8_t> bare(24, 0);
  bare[4] = 1;  // page sizes only, no caps
  auto none = parse_type1_info(bare);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_iova_ranges);
  EXPECT_TRUE(none->caps.empty());
}

TEST(ParseType1Info, RefusesMalformedReplies) {
  auto reply = make_reply(kIntel39, true);
  // Truncated inside the ranges.
  std::vector<uint8_t> cut(reply.begin(), reply.end() - 1);
  auto r1 = parse_type1_info(cut);
  ASSERT_FALSE(r1);
  EXPECT_NE(r1.error().message.find("do not fit"), std::string::npos) << r1.error().message;
  // A chain that loops back to the first capability.
  auto loop = reply;
  uint32_t first = 24;
  std::memcpy(&loop[72 + 4], &first, 4);
  auto r2 = parse_type1_info(loop);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message.find("loops"), std::string::npos) << r2.error().message;
  // start > end.
  auto swapped = make_reply({{0x2000, 0x1000}}, true);
  EXPECT_FALSE(parse_type1_info(swapped));
  // A header shorter than 20 bytes, and a cap pointer past the end.
  EXPECT_FALSE(parse_type1_info(std::vector<uint8_t>(19, 0)));
  auto past = reply;
  uint32_t far = 4096;
  std::memcpy(&past[16], &far, 4);
  EXPECT_FALSE(parse_type1_info(past));
}

TEST(Type1MapVerdict, HandCasesAtTheEdges) {
  const uint64_t pg = 0x40201000;
  EXPECT_EQ(type1_map_verdict(kIntel39, pg, 0, kPage), 0);
  EXPECT_EQ(type1_map_verdict(kIntel39, pg, 0xfedff000, kPage), 0);
  EXPECT_EQ(type1_map_verdict(kIntel39, pg, 0xfee00000, kPage), EINVAL);
  EXPECT_EQ(type1_map_verdict(kIntel39, pg, 0xfedff000, 2 * kPage), EINVAL);  // spans a hole
  EXPECT_EQ(type1_map_verdict(kIntel39, pg, 0x7ffffff000, kPage), 0);
  EXPECT_EQ(type1_map_verdict(kIntel39, pg, 0x8000000000, kPage), EINVAL);
  EXPECT_EQ(type1_map_verdict(kIntel39, pg, 0x800, kPage), EINVAL);  // unaligned iova
  EXPECT_EQ(type1_map_verdict(kIntel39, pg, 0, 0x800), EINVAL);      // unaligned size
  EXPECT_EQ(type1_map_verdict(kIntel39, pg, 0, 0), EINVAL);
  const std::vector<Range> all = {Range::all()};
  EXPECT_EQ(type1_map_verdict(all, pg, kMaxAddress - kPage + 1, kPage), 0);
  EXPECT_EQ(type1_map_verdict(all, pg, kMaxAddress - kPage + 1, 2 * kPage), EINVAL);  // wraps
  EXPECT_EQ(type1_map_verdict({}, pg, 0xfee00000, kPage), 0);   // no list: anything goes
  EXPECT_EQ(type1_map_verdict(kIntel39, 0, 0, kPage), EINVAL);  // no page size at all
}

// Brute force over a small space of 64 pages: a mapping is accepted when it is page-aligned,
// non-empty and every page lies in the same range.
RC_GTEST_PROP(Type1MapVerdict, MatchesPageByPageModel, ()) {
  const uint64_t pages = 64;
  auto bounds = *rc::gen::container<std::vector<uint64_t>>(*rc::gen::inRange<size_t>(0, 8),
                                                           rc::gen::inRange<uint64_t>(0, pages));
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  std::vector<Range> ranges;
  for (size_t i = 0; i + 1 < bounds.size(); i += 2) {
    ranges.push_back({bounds[i] * kPage, bounds[i + 1] * kPage - 1});
  }
  if (bounds.size() == 1) ranges.push_back({bounds[0] * kPage, kMaxAddress});
  uint64_t iova = *rc::gen::inRange<uint64_t>(0, pages * kPage + 2);
  uint64_t size = *rc::gen::inRange<uint64_t>(0, 4 * kPage + 2);
  if (*rc::gen::arbitrary<bool>()) {
    iova &= ~(kPage - 1);
    size &= ~(kPage - 1);
  }
  int want = 0;
  if (size == 0 || iova % kPage || size % kPage) {
    want = EINVAL;
  } else if (!ranges.empty()) {
    int home = -1;
    for (uint64_t p = iova; p < iova + size; p += kPage) {
      int in = -1;
      for (size_t i = 0; i < ranges.size(); ++i) {
        if (ranges[i].contains(p) && ranges[i].contains(p + kPage - 1)) in = static_cast<int>(i);
      }
      if (in < 0 || (home >= 0 && in != home)) {
        want = EINVAL;
        break;
      }
      home = in;
    }
  }
  RC_ASSERT(type1_map_verdict(ranges, 0x1000, iova, size) == want);
}

TEST(Type1ProbePoints, BoundariesAndReservedRegions) {
  auto points = type1_probe_points(kIntel39, {{0xfee00000, 0xfeefffff}}, kPage);
  std::vector<uint64_t> want = {0,          0xfedff000,   0xfee00000,  0xfeeff000,
                                0xfef00000, 0x7ffffff000, 0x8000000000};
  EXPECT_EQ(points, want);
  auto top = type1_probe_points({{0x1000, kMaxAddress}}, {}, kPage);
  std::vector<uint64_t> want_top = {0, 0x1000, kMaxAddress - kPage + 1};
  EXPECT_EQ(top, want_top);
}

TEST(VfioType1Session, MissingDeviceDirectoryIsEnoent) {
  auto s = VfioType1Session::open({7}, "/nonexistent-vfio-dir");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ENOENT);
  EXPECT_NE(s.error().message.find("/nonexistent-vfio-dir/vfio"), std::string::npos);
  EXPECT_FALSE(VfioType1Session::open({}, "/dev/vfio"));
}

}  // namespace
}  // namespace iovamap
