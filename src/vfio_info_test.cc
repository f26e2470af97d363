// VFIO_IOMMU_GET_INFO bytes against replies worked out by hand from vfio_iommu_type1_get_info,
// vfio_info_cap_add/shift and iommufd_vfio_iommu_get_info, byte by byte.
#include "iovamap/vfio_info.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <sstream>

namespace iovamap {
namespace {

// Parses "78 00 00 00 ..." (whitespace and '|' ignored) into bytes.
std::vector<uint8_t> hex_bytes(const std::string& text) {
  std::vector<uint8_t> out;
  std::string clean = text;
  std::replace(clean.begin(), clean.end(), '|', ' ');
  std::istringstream in(clean);
  std::string tok;
  while (in >> tok) {
    out.push_back(static_cast<uint8_t>(std::stoul(tok, nullptr, 16)));
  }
  return out;
}

// The Intel aw-bits=39 container of the real 6.12 snapshot (tests/data/vfio/6.12-intel39).
Type1InfoState intel39() {
  return Type1InfoState{0x40201000, 65535, {{0, 0xfedfffff}, {0xfef00000, 0x7fffffffff}}};
}

constexpr const char* kRanges =
    "00 00 00 00 00 00 00 00 | ff ff df fe 00 00 00 00 | 00 00 f0 fe 00 00 00 00 |"
    " ff ff ff ff 7f 00 00 00";

TEST(VfioInfo, AlignedReplyByteForByte) {
  auto reply = type1_get_info(intel39(), 120, GetInfoOptions::for_kernel({6, 12}));
  ASSERT_TRUE(reply.ok());
  std::string expected = std::string(
                             // info: argsz 120, flags PGSIZES|CAPS, pgsizes, cap_offset 24, pad
                             "78 00 00 00 03 00 00 00 | 00 10 20 40 00 00 00 00 | 18 00 00 00 "
                             "00 00 00 00 |"
                             // migration at 24: next 56, flags 0, pad, 4 KiB, 256 MiB
                             "02 00 01 00 38 00 00 00 | 00 00 00 00 00 00 00 00 | 00 10 00 00 "
                             "00 00 00 00 | 00 00 00 10 00 00 00 00 |"
                             // dma-avail at 56: next 72, 65535, 4 zero bytes of alignment
                             "03 00 01 00 48 00 00 00 | ff ff 00 00 00 00 00 00 |"
                             // iova ranges at 72: last, 2 ranges
                             "01 00 01 00 00 00 00 00 | 02 00 00 00 00 00 00 00 |") +
                         kRanges;
  EXPECT_EQ(reply->bytes, hex_bytes(expected));
  EXPECT_EQ(reply->argsz, 120u);
  EXPECT_EQ(reply->cap_offset, 24u);
  EXPECT_TRUE(reply->undefined.empty());
}

TEST(VfioInfo, PackedReplyPutsTheIovaCapAt68) {
  auto reply = type1_get_info(intel39(), 116, GetInfoOptions::for_kernel({6, 5}));
  ASSERT_TRUE(reply.ok());
  std::string expected = std::string(
                             // 20 bytes of info copied; 20..23 untouched
                             "74 00 00 00 03 00 00 00 | 00 10 20 40 00 00 00 00 | 18 00 00 00 "
                             "00 00 00 00 |"
                             "02 00 01 00 38 00 00 00 | 00 00 00 00 00 00 00 00 | 00 10 00 00 "
                             "00 00 00 00 | 00 00 00 10 00 00 00 00 |"
                             // dma-avail at 56, next 68, no padding
                             "03 00 01 00 44 00 00 00 | ff ff 00 00 |"
                             "01 00 01 00 00 00 00 00 | 02 00 00 00 00 00 00 00 |") +
                         kRanges;
  EXPECT_EQ(reply->bytes, hex_bytes(expected));
  EXPECT_EQ(reply->argsz, 116u);
  // The migration cap's padding is kernel stack before v6.6.
  ASSERT_EQ(reply->undefined.size(), 1u);
  EXPECT_EQ(reply->undefined[0], (Range{36, 39}));
  // Without the padding leak (a kernel with the fix backported) nothing is undefined.
  GetInfoOptions fixed = GetInfoOptions::for_kernel({6, 5});
  fixed.migration_padding_leak = false;
  EXPECT_TRUE(type1_get_info(intel39(), 116, fixed)->undefined.empty());
}

TEST(VfioInfo, ShortArgszReportsTheNeededSize) {
  // The QEMU/lab pattern: first call with the bare struct.
  auto aligned = type1_get_info(intel39(), 24, GetInfoOptions::for_kernel({6, 12}));
  ASSERT_TRUE(aligned.ok());
  EXPECT_EQ(aligned->bytes, hex_bytes("78 00 00 00 03 00 00 00 00 10 20 40 00 00 00 00 "
                                      "00 00 00 00 00 00 00 00"));
  EXPECT_EQ(aligned->cap_offset, 0u);
  // Old callers pass 16 bytes: only up to iova_pgsizes comes back, argsz still updated.
  auto old = type1_get_info(intel39(), 16, GetInfoOptions::for_kernel({6, 1}));
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->bytes, hex_bytes("74 00 00 00 03 00 00 00 00 10 20 40 00 00 00 00"));
  EXPECT_TRUE(old->undefined.empty());
  // One byte short of the full reply: still nothing but the header.
  auto almost = type1_get_info(intel39(), 119, GetInfoOptions::for_kernel({6, 12}));
  EXPECT_EQ(almost->bytes.size(), 24u);
  EXPECT_EQ(almost->argsz, 120u);
  // Below 16 bytes the kernel refuses.
  auto bad = type1_get_info(intel39(), 15, GetInfoOptions::for_kernel({6, 12}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, EINVAL);
}

TEST(VfioInfo, CapsByKernelVersion) {
  // 5.4: iova ranges only; 5.8 adds migration; 5.10 dma-avail; 6.6 aligns.
  GetInfoOptions k54 = GetInfoOptions::for_kernel({5, 4});
  EXPECT_FALSE(k54.migration_cap);
  EXPECT_FALSE(k54.dma_avail_cap);
  EXPECT_TRUE(k54.iova_range_cap);
  auto r = type1_get_info(intel39(), 1000, k54);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->bytes.size(), 24u + 16 + 32);
  EXPECT_EQ(r->bytes[24], kVfioCapIovaRange);
  // An empty list (mdev-only container) on 5.4 gives no capability at all: no CAPS flag.
  auto empty = type1_get_info(Type1InfoState{0xfffffffffffff000, 65535, {}}, 1000, k54);
  EXPECT_EQ(empty->flags, kVfioInfoPgsizes);
  EXPECT_EQ(empty->argsz, 1000u);
  // v6.6 pads the last capability too: with an empty list dma-avail ends the chain at 72
  // (68 before v6.6).
  Type1InfoState mdev{0xfffffffffffff000, 65535, {}};
  EXPECT_EQ(type1_get_info(mdev, 24, GetInfoOptions::for_kernel({6, 12}))->argsz, 72u);
  EXPECT_EQ(type1_get_info(mdev, 24, GetInfoOptions::for_kernel({6, 1}))->argsz, 68u);
  EXPECT_EQ(GetInfoOptions::for_kernel({6, 6}).layout, CapLayout::kAligned);
  EXPECT_EQ(GetInfoOptions::for_kernel({6, 5}).layout, CapLayout::kPacked);
  EXPECT_FALSE(GetInfoOptions::for_kernel({5, 9}).dma_avail_cap);
  EXPECT_TRUE(GetInfoOptions::for_kernel({5, 10}).dma_avail_cap);
}

TEST(VfioInfo, ParseRoundTripAndMalformedReplies) {
  auto reply = type1_get_info(intel39(), 120, GetInfoOptions::for_kernel({6, 12}));
  auto ranges = parse_iova_ranges(reply->bytes);
  ASSERT_TRUE(ranges.ok()) << ranges.error().message;
  EXPECT_EQ(*ranges, intel39().iova_list);
  // Header only: no caps copied.
  auto head = type1_get_info(intel39(), 24, GetInfoOptions::for_kernel({6, 12}));
  EXPECT_EQ(parse_iova_ranges(head->bytes).error().code, ENOENT);
  // Truncated range array.
  std::vector<uint8_t> cut = reply->bytes;
  cut.resize(cut.size() - 1);
  EXPECT_EQ(parse_iova_ranges(cut).error().code, EINVAL);
  // A chain that points at itself.
  std::vector<uint8_t> loop = reply->bytes;
  loop[28] = 24;  // migration's next -> itself
  EXPECT_EQ(parse_iova_ranges(loop).error().code, EINVAL);
  EXPECT_EQ(to_sysfs_lines(*ranges),
            "0x0000000000000000 0x00000000fedfffff\n0x00000000fef00000 0x0000007fffffffff\n");
}

CompatInfoState compat() {
  return CompatInfoState{0x40201000, 0xffffffff, intel39().iova_list};
}

TEST(VfioInfo, IommufdCompatFullReply) {
  auto r = iommufd_compat_get_info(compat(), 88, CapLayout::kAligned);
  ASSERT_TRUE(r.ok());
  std::string expected = std::string(
                             "58 00 00 00 03 00 00 00 | 00 10 20 40 00 00 00 00 | 18 00 00 00 "
                             "00 00 00 00 |"
                             // dma-avail U32_MAX at 24, next 40; padding not written
                             "03 00 01 00 28 00 00 00 | ff ff ff ff 00 00 00 00 |"
                             "01 00 01 00 00 00 00 00 | 02 00 00 00 00 00 00 00 |") +
                         kRanges;
  EXPECT_EQ(r->bytes, hex_bytes(expected));
  EXPECT_EQ(*parse_iova_ranges(r->bytes), intel39().iova_list);
}

TEST(VfioInfo, IommufdCompatWritesWhatFits) {
  // Room for the dma-avail cap only: written whole, its `next` not patched, no cap_offset.
  auto a = iommufd_compat_get_info(compat(), 36, CapLayout::kAligned);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->argsz, 88u);
  EXPECT_EQ(a->cap_offset, 0u);
  EXPECT_EQ(a->flags, kVfioInfoPgsizes | kVfioInfoCaps);
  EXPECT_EQ(std::vector<uint8_t>(a->bytes.begin() + 24, a->bytes.end()),
            hex_bytes("03 00 01 00 00 00 00 00 ff ff ff ff"));
  // Room for one range: the range is written, the iova header is not, dma-avail's next is.
  auto b = iommufd_compat_get_info(compat(), 72, CapLayout::kAligned);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->bytes.size(), 72u);
  EXPECT_EQ(b->bytes[28], 40);
  for (size_t i = 40; i < 56; ++i) EXPECT_EQ(b->bytes[i], 0) << i;
  EXPECT_EQ(std::vector<uint8_t>(b->bytes.begin() + 56, b->bytes.end()),
            hex_bytes("00 00 00 00 00 00 00 00 ff ff df fe 00 00 00 00"));
  // Before v6.6: no padding (iova cap at 36) and 4 uninitialised bytes after cap_offset.
  auto p = iommufd_compat_get_info(compat(), 84, CapLayout::kPacked);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->argsz, 84u);
  EXPECT_EQ(p->bytes[28], 36);
  ASSERT_EQ(p->undefined.size(), 1u);
  EXPECT_EQ(p->undefined[0], (Range{20, 23}));
  EXPECT_EQ(*parse_iova_ranges(p->bytes), intel39().iova_list);
}

// Every reply, for every argsz, is consistent with the full one: same prefix where written,
// never longer than argsz, parseable exactly when the caps fit.
RC_GTEST_PROP(VfioInfo, EveryArgszIsAPrefixOfTheFullReply, ()) {
  const auto n = *rc::gen::inRange<size_t>(0, 5);
  std::vector<Range> list;
  uint64_t at = *rc::gen::inRange<uint64_t>(0, 1 << 20);
  for (size_t i = 0; i < n; ++i) {
    uint64_t len = *rc::gen::inRange<uint64_t>(1, 1 << 20);
    list.push_back(Range{at, at + len - 1});
    at += len + *rc::gen::inRange<uint64_t>(1, 1 << 20);
  }
  Type1InfoState state{uint64_t{1} << *rc::gen::inRange(12, 40), 65535, list};
  GetInfoOptions o = GetInfoOptions::for_kernel(*rc::gen::element(
      KernelVersion{5, 4}, KernelVersion{5, 8}, KernelVersion{6, 1}, KernelVersion{6, 12}));
  auto full = type1_get_info(state, 4096, o);
  RC_ASSERT(full.ok());
  uint32_t needed = full->bytes.size() > 24 ? static_cast<uint32_t>(full->bytes.size()) : 24;
  uint32_t argsz = *rc::gen::inRange<uint32_t>(16, needed + 8);
  auto r = type1_get_info(state, argsz, o);
  RC_ASSERT(r.ok());
  RC_ASSERT(r->bytes.size() <= argsz);
  bool caps_fit = argsz >= needed;
  if (caps_fit && !list.empty() && o.iova_range_cap) {
    RC_ASSERT(*parse_iova_ranges(r->bytes) == list);
  } else {
    RC_ASSERT(!parse_iova_ranges(r->bytes).ok());
  }
  // Beyond the argsz field (which changes) the bytes agree with the full reply.
  for (size_t i = 4; i < r->bytes.size(); ++i) {
    if (i >= 16 && i < 20) continue;  // cap_offset: 0 when the caps did not fit
    RC_ASSERT(r->bytes[i] == full->bytes[i]);
  }
}

}  // namespace
}  // namespace iovamap
