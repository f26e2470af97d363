// RegionList: the kernel's insertion, its quirks, and the sysfs format.
#include "iovamap/region.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <bitset>
#include <map>

#include "iovamap/range_set.h"

namespace iovamap {
namespace {

ReservedRegion reg(uint64_t first, uint64_t last, RegionType type) {
  return ReservedRegion::make(Range{first, last}, type);
}

std::string sysfs_of(std::initializer_list<ReservedRegion> inserts,
                     MergeRule rule = MergeRule::kKernel) {
  RegionList list(rule);
  for (const ReservedRegion& r : inserts) list.insert(r);
  return list.to_sysfs();
}

TEST(RegionList, AdjacentSameTypeMerge) {
  EXPECT_EQ(sysfs_of({reg(0x1000, 0x1fff, RegionType::kReserved),
                      reg(0x2000, 0x2fff, RegionType::kReserved)}),
            "0x0000000000001000 0x0000000000002fff reserved\n");
  // A gap of one address keeps them apart.
  EXPECT_EQ(sysfs_of({reg(0x1000, 0x1fff, RegionType::kReserved),
                      reg(0x2001, 0x2fff, RegionType::kReserved)}),
            "0x0000000000001000 0x0000000000001fff reserved\n"
            "0x0000000000002001 0x0000000000002fff reserved\n");
}

TEST(RegionList, DifferentTypesNeverMergeAndMayOverlap) {
  EXPECT_EQ(sysfs_of({reg(0x1000, 0x1fff, RegionType::kDirect),
                      reg(0x0, 0xffffff, RegionType::kDirectRelaxable)}),
            "0x0000000000000000 0x0000000000ffffff direct-relaxable\n"
            "0x0000000000001000 0x0000000000001fff direct\n");
}

TEST(RegionList, EqualStartSortsByTypeValue) {
  EXPECT_EQ(
      sysfs_of({reg(0x1000, 0x1fff, RegionType::kReserved),
                reg(0x1000, 0x1fff, RegionType::kDirect), reg(0x1000, 0x1fff, RegionType::kSwMsi),
                reg(0x1000, 0x1fff, RegionType::kMsi)}),
      "0x0000000000001000 0x0000000000001fff direct\n"
      "0x0000000000001000 0x0000000000001fff reserved\n"
      "0x0000000000001000 0x0000000000001fff msi\n"
      "0x0000000000001000 0x0000000000001fff msi\n");
}

TEST(RegionList, MergeOnlyTouchesTheInsertedType) {
  // Two adjacent reserved regions inserted while a direct region sits between them in the
  // list still merge, and the direct region keeps its place.
  RegionList list;
  list.insert(reg(0x1000, 0x1fff, RegionType::kReserved));
  list.insert(reg(0x1800, 0x27ff, RegionType::kDirect));
  list.insert(reg(0x2000, 0x2fff, RegionType::kReserved));
  EXPECT_EQ(list.to_sysfs(),
            "0x0000000000001000 0x0000000000002fff reserved\n"
            "0x0000000000001800 0x00000000000027ff direct\n");
}

TEST(RegionList, OverflowQuirkKeepsOverlappingLines) {
  // The kept entry ends at 2^64-1; end + 1 wraps to 0 and the later entry is not merged.
  auto inserts = {reg(0x8000000000, kMaxAddress, RegionType::kReserved),
                  reg(0x100000000, kMaxAddress, RegionType::kReserved)};
  RegionList kernel, fixed(MergeRule::kNoOverflowQuirk);
  for (const auto& r : inserts) {
    kernel.insert(r);
    fixed.insert(r);
  }
  EXPECT_EQ(kernel.to_sysfs(),
            "0x0000000100000000 0xffffffffffffffff reserved\n"
            "0x0000008000000000 0xffffffffffffffff reserved\n");
  EXPECT_EQ(fixed.to_sysfs(), "0x0000000100000000 0xffffffffffffffff reserved\n");
}

TEST(RegionList, MergeOverWholeSpaceWrapsLengthToZero) {
  RegionList list;
  list.insert(reg(0x0, 0xfff, RegionType::kReserved));
  list.insert(reg(0x1000, kMaxAddress, RegionType::kReserved));
  ASSERT_EQ(list.regions().size(), 1u);
  EXPECT_EQ(list.regions()[0].start, 0u);
  EXPECT_EQ(list.regions()[0].length, 0u);  // the kernel's wrapped length
  EXPECT_EQ(list.regions()[0].last(), kMaxAddress);
  EXPECT_EQ(list.to_sysfs(), "0x0000000000000000 0xffffffffffffffff reserved\n");
  // The wrapped entry ends at 2^64-1, so the quirk keeps a later region inside it apart...
  list.insert(reg(0x5000, 0x5fff, RegionType::kReserved));
  EXPECT_EQ(list.regions().size(), 2u);
  // ...but one starting at 0 is merged (0 > 0 is false).
  list.insert(reg(0x0, 0x10, RegionType::kReserved));
  EXPECT_EQ(list.to_sysfs(),
            "0x0000000000000000 0xffffffffffffffff reserved\n"
            "0x0000000000005000 0x0000000000005fff reserved\n");
}

TEST(RegionList, NewEntryGoesBeforeEqualStartAndType) {
  RegionList list;
  list.insert(
      ReservedRegion::make({0x1000, 0x1fff}, RegionType::kDirect, {Origin::kFirmware, "old"}));
  list.insert(
      ReservedRegion::make({0x1000, 0x17ff}, RegionType::kDirect, {Origin::kFirmware, "new"}));
  ASSERT_EQ(list.regions().size(), 1u);
  EXPECT_EQ(list.regions()[0].range(), (Range{0x1000, 0x1fff}));
  // The new entry is the one kept (it came first in the list); the old one merged into it.
  ASSERT_EQ(list.regions()[0].provenance.size(), 2u);
  EXPECT_EQ(list.regions()[0].provenance[0].detail, "new");
}

// Property: with regions away from 2^64-1, each type's entries are exactly the canonical set
// of the addresses inserted with that type (merged, sorted, non-touching), and the list is
// sorted by (start, type). Near 2^64-1 the addresses covered per type are still exact.
RC_GTEST_PROP(RegionList, PerTypeCoverageMatchesBruteForce, ()) {
  const uint64_t base = *rc::gen::element(uint64_t{0}, kMaxAddress - 255);
  const auto rule = *rc::gen::element(MergeRule::kKernel, MergeRule::kNoOverflowQuirk);
  const auto inserts = *rc::gen::container<std::vector<std::tuple<int, int, int>>>(
      rc::gen::tuple(rc::gen::inRange(0, 256), rc::gen::inRange(0, 256), rc::gen::inRange(0, 5)));
  RegionList list(rule);
  std::map<RegionType, std::bitset<256>> expect;
  std::map<RegionType, std::vector<Range>> expect_ranges;
  for (auto [a, b, t] : inserts) {
    int f = std::min(a, b), l = std::max(a, b);
    auto type = static_cast<RegionType>(t);
    Range r{base + f, base + l};
    list.insert(ReservedRegion::make(r, type));
    for (int i = f; i <= l; ++i) expect[type].set(i);
    expect_ranges[type].push_back(r);
  }
  std::map<RegionType, std::bitset<256>> got;
  const auto& v = list.regions();
  for (size_t i = 0; i < v.size(); ++i) {
    RC_ASSERT(v[i].start >= base);
    for (uint64_t x = v[i].start - base;; ++x) {
      got[v[i].type].set(x);
      if (x == v[i].last() - base) break;
    }
    if (i > 0)
      RC_ASSERT(v[i - 1].start < v[i].start ||
                (v[i - 1].start == v[i].start && v[i - 1].type <= v[i].type));
  }
  for (int t = 0; t < 5; ++t) RC_ASSERT(got[RegionType(t)] == expect[RegionType(t)]);
  bool touches_top = false;
  for (const auto& r : v) touches_top = touches_top || r.last() == kMaxAddress;
  if (!touches_top || rule == MergeRule::kNoOverflowQuirk) {
    for (auto& [type, ranges] : expect_ranges) {
      std::vector<Range> of_type;
      for (const auto& r : v)
        if (r.type == type) of_type.push_back(r.range());
      RC_ASSERT(of_type == RangeSet::from_ranges(ranges).ranges());
    }
  }
}

// The kernel's own algorithm, step by step: insert before the first entry that starts later
// (or equal with a type at least as large), then one pass over the whole list merging the
// inserted type into the last kept entry of that type. O(n) per insert; the reference.
void reference_insert(std::vector<ReservedRegion>& list, const ReservedRegion& region,
                      MergeRule rule) {
  auto at = std::find_if(list.begin(), list.end(), [&](const ReservedRegion& r) {
    return region.start < r.start || (region.start == r.start && region.type <= r.type);
  });
  list.insert(at, region);
  std::vector<ReservedRegion> kept;
  for (ReservedRegion& r : list) {
    auto top = std::find_if(kept.rbegin(), kept.rend(),
                            [&](const ReservedRegion& k) { return k.type == r.type; });
    if (r.type != region.type || top == kept.rend()) {
      kept.push_back(r);
      continue;
    }
    uint64_t top_end = top->last();
    bool separate = r.start > top_end + 1;
    if (rule == MergeRule::kNoOverflowQuirk && top_end == kMaxAddress) separate = false;
    if (separate) {
      kept.push_back(r);
    } else {
      top->length = std::max(top_end, r.last()) - top->start + 1;
      for (const Provenance& p : r.provenance)
        if (std::find(top->provenance.begin(), top->provenance.end(), p) == top->provenance.end())
          top->provenance.push_back(p);
    }
  }
  list = std::move(kept);
}

// Property: the list, entry for entry (start, length, type, order, provenance), is what the
// kernel's pass gives, for both rules, at both ends of the space, with regions that reach
// 2^64-1 (the quirk) and regions of all 2^64 addresses.
RC_GTEST_PROP(RegionList, EqualsTheKernelsPassEntryForEntry, ()) {
  const uint64_t base = *rc::gen::element(uint64_t{0}, kMaxAddress - 63);
  const auto rule = *rc::gen::element(MergeRule::kKernel, MergeRule::kNoOverflowQuirk);
  const auto inserts = *rc::gen::container<std::vector<std::tuple<int, int, int, int>>>(
      rc::gen::tuple(rc::gen::inRange(0, 64), rc::gen::inRange(0, 64), rc::gen::inRange(0, 5),
                     rc::gen::inRange(0, 4)));
  RegionList list(rule);
  std::vector<ReservedRegion> reference;
  for (auto [a, b, t, source] : inserts) {
    int f = std::min(a, b), l = std::max(a, b);
    // Now and then the whole space, whose length wraps to 0.
    Range r = source == 3 && a == 0 ? Range::all() : Range{base + f, base + l};
    ReservedRegion region = ReservedRegion::make(
        r, static_cast<RegionType>(t), Provenance{Origin::kFirmware, std::to_string(source)});
    list.insert(region);
    reference_insert(reference, region, rule);
    if (b % 7 == 0) {  // read the list in between, as a reader may
      const auto& v = list.regions();
      RC_ASSERT(v.size() == reference.size());
    }
  }
  const auto& v = list.regions();
  RC_ASSERT(v.size() == reference.size());
  for (size_t i = 0; i < v.size(); ++i) {
    RC_ASSERT(v[i].same_as(reference[i]));
    RC_ASSERT(v[i].provenance == reference[i].provenance);
  }
}

RC_GTEST_PROP(RegionList, SysfsRoundTrip, ()) {
  const auto inserts =
      *rc::gen::container<std::vector<std::tuple<uint64_t, uint64_t, int>>>(rc::gen::tuple(
          rc::gen::arbitrary<uint64_t>(), rc::gen::arbitrary<uint64_t>(), rc::gen::inRange(0, 4)));
  RegionList list;
  for (auto [a, b, t] : inserts)
    list.insert(ReservedRegion::make({std::min(a, b), std::max(a, b)}, RegionType(t)));
  std::string text = list.to_sysfs();
  auto parsed = parse_sysfs_regions(text, "reserved_regions");
  RC_ASSERT(parsed.ok());
  RC_ASSERT(parsed->size() == list.regions().size());
  for (size_t i = 0; i < parsed->size(); ++i) RC_ASSERT((*parsed)[i].same_as(list.regions()[i]));
  RC_ASSERT(to_sysfs(*parsed) == text);
}

TEST(ParseSysfsRegions, RejectsMalformedLinesWithFileAndLine) {
  auto bad = [](std::string_view text) {
    auto r = parse_sysfs_regions(text, "groups/3/reserved_regions");
    EXPECT_FALSE(r.ok()) << text;
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_EQ(bad("0x00000000fee00000 0x00000000feefffff msi\n0x1 0x2 msi\n"),
            "groups/3/reserved_regions:2: addresses must be 0x followed by 16 hex digits");
  EXPECT_NE(bad("0x00000000fee00000 0x00000000feefffff bogus\n").find(":1: unknown region type"),
            std::string::npos);
  EXPECT_NE(bad("0x00000000fee00000 0x00000000feefffff msi").find("no newline"), std::string::npos);
  EXPECT_NE(bad("0x00000000fef00000 0x00000000feefffff msi\n").find("below start"),
            std::string::npos);
  EXPECT_NE(bad("0x00000000fee00000 0x00000000feefffff sw-msi\n").find("sw-msi"),
            std::string::npos);
  EXPECT_NE(bad("garbage\n").find(":1:"), std::string::npos);
  EXPECT_TRUE(parse_sysfs_regions("", "x")->empty());
}

TEST(RegionType, Names) {
  EXPECT_EQ(sysfs_name(RegionType::kSwMsi), "msi");
  EXPECT_EQ(type_name(RegionType::kSwMsi), "sw-msi");
  EXPECT_EQ(*parse_region_type("direct-relaxable"), RegionType::kDirectRelaxable);
  EXPECT_FALSE(parse_region_type("MSI").ok());
}

}  // namespace
}  // namespace iovamap
