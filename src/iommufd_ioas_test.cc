// The iommufd IOAS model against hand cases (drivers/iommu/iommufd/ioas.c, io_pagetable.c,
// lab.md's real-kernel answers) and a brute-force model: a bitset of reserved addresses over a
// 16 KiB universe at the bottom or the top of the 64-bit space.
#include "iovamap/iommufd_ioas.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <bitset>

#include "iovamap/range_set.h"

namespace iovamap {
namespace {

ReservedRegion region(uint64_t first, uint64_t last, RegionType type) {
  return ReservedRegion::make(Range{first, last}, type);
}

const IoasDomain kIntel39{"dmar0", {0, 0x7fffffffff}, 0x40201000};

TEST(Ioas, EmptyIoasIsTheWholeSpaceWithAlignmentOne) {
  IoasModel ioas;
  IovaRangesReply r = ioas.iova_ranges(4);
  EXPECT_TRUE(r.status.ok());
  EXPECT_EQ(r.ranges, (std::vector<Range>{Range::all()}));
  EXPECT_EQ(r.num_iovas, 1u);
  EXPECT_EQ(r.alignment, 1u);
  EXPECT_EQ(ioas.compat_pgsizes(), 0xfffffffffffff000u);
}

TEST(Ioas, AttachReservesDeviceRegionsAndTheApertureOutside) {
  IoasModel ioas;
  IoasDevice dev{"0000:01:00.0",
                 {region(0, 0xffffff, RegionType::kDirectRelaxable),
                  region(0xfee00000, 0xfeefffff, RegionType::kMsi)}};
  ASSERT_TRUE(ioas.attach(dev, kIntel39).ok());
  IovaRangesReply r = ioas.iova_ranges(8);
  EXPECT_EQ(r.ranges, (std::vector<Range>{{0, 0xfedfffff}, {0xfef00000, 0x7fffffffff}}));
  EXPECT_EQ(r.alignment, 0x1000u);
  EXPECT_EQ(ioas.compat_pgsizes(), 0x40201000u);
  // Detaching the only device frees everything again.
  ASSERT_TRUE(ioas.detach("0000:01:00.0").ok());
  EXPECT_EQ(ioas.usable(), (std::vector<Range>{Range::all()}));
  EXPECT_EQ(ioas.iova_alignment(), 1u);
  EXPECT_EQ(ioas.detach("0000:01:00.0").error().code, ENOENT);
}

TEST(Ioas, ReservationsAreNotMergedAndLeaveWithTheirOwner) {
  // Two devices reporting overlapping windows; the first leaving keeps the second's.
  IoasModel ioas;
  ASSERT_TRUE(ioas.attach({"a", {region(0x1000, 0x4fff, RegionType::kReserved)}}, kIntel39).ok());
  ASSERT_TRUE(ioas.attach({"b", {region(0x3000, 0x6fff, RegionType::kReserved)}}, kIntel39).ok());
  EXPECT_EQ(ioas.usable(), (std::vector<Range>{{0, 0xfff}, {0x7000, 0x7fffffffff}}));
  ASSERT_TRUE(ioas.detach("a").ok());
  EXPECT_EQ(ioas.usable(), (std::vector<Range>{{0, 0x2fff}, {0x7000, 0x7fffffffff}}));
  // The domain stays while "b" uses it.
  EXPECT_EQ(ioas.iova_alignment(), 0x1000u);
}

TEST(Ioas, ShortArrayFillsWhatFitsAndFailsWithEmsgsize) {
  IoasModel ioas;
  ASSERT_TRUE(ioas.attach({"d",
                           {region(0x1000, 0x1fff, RegionType::kReserved),
                            region(0x3000, 0x3fff, RegionType::kReserved)}},
                          kIntel39)
                  .ok());
  IovaRangesReply r = ioas.iova_ranges(2);
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.error().code, EMSGSIZE);
  EXPECT_EQ(r.num_iovas, 3u);
  EXPECT_EQ(r.ranges, (std::vector<Range>{{0, 0xfff}, {0x2000, 0x2fff}}));
  EXPECT_EQ(r.alignment, 0x1000u);
  IovaRangesReply none = ioas.iova_ranges(0);
  EXPECT_EQ(none.status.error().code, EMSGSIZE);
  EXPECT_TRUE(none.ranges.empty());
  EXPECT_TRUE(ioas.iova_ranges(3).status.ok());
}

TEST(Ioas, MsiSanity) {
  IoasModel ioas;
  Status s = ioas.attach({"d",
                          {region(0xfee00000, 0xfeefffff, RegionType::kMsi),
                           region(0x8000000, 0x80fffff, RegionType::kSwMsi)}},
                         kIntel39);
  EXPECT_EQ(s.error().code, EINVAL);
  EXPECT_EQ(ioas.usable(), (std::vector<Range>{Range::all()}));  // rolled back
  s = ioas.attach({"d",
                   {region(0x8000000, 0x80fffff, RegionType::kSwMsi),
                    region(0x9000000, 0x90fffff, RegionType::kSwMsi)}},
                  kIntel39);
  EXPECT_EQ(s.error().code, EINVAL);
  // A direct-relaxable region is skipped before counting anything.
  EXPECT_TRUE(ioas.attach({"d",
                           {region(0x8000000, 0x80fffff, RegionType::kSwMsi),
                            region(0, 0xfff, RegionType::kDirectRelaxable)}},
                          kIntel39)
                  .ok());
}

TEST(Ioas, AttachFailures) {
  IoasModel ioas;
  ASSERT_TRUE(ioas.attach({"a", {}}, IoasDomain{"wide", Range::all(), 0x1000}).ok());
  ASSERT_TRUE(ioas.map(0x8000000000, 0x1000).ok());
  // A narrower aperture would strand the mapping.
  Status s = ioas.attach({"b", {}}, kIntel39);
  EXPECT_EQ(s.error().code, EADDRINUSE);
  EXPECT_NE(s.error().message.find("above its aperture"), std::string::npos) << s.error().message;
  // A region over the mapping.
  EXPECT_EQ(ioas.attach({"c", {region(0x8000000000, 0x8000000fff, RegionType::kDirect)}},
                        IoasDomain{"wide", Range::all(), 0x1000})
                .error()
                .code,
            EADDRINUSE);
  // Pages above PAGE_SIZE.
  EXPECT_EQ(ioas.attach({"d", {}}, IoasDomain{"big", Range::all(), 0x200000}).error().code, EINVAL);
  // Already attached.
  EXPECT_EQ(ioas.attach({"a", {}}, IoasDomain{"wide", Range::all(), 0x1000}).error().code, EINVAL);
  // Nothing changed along the way.
  EXPECT_EQ(ioas.usable(), (std::vector<Range>{Range::all()}));
}

TEST(Ioas, UnisolatedMsiIsRefusedWithEperm) {
  IoasDevice bare{"0000:00:02.0", {region(0xfee00000, 0xfeefffff, RegionType::kMsi)}};
  bare.msi_isolated = false;
  // v6.6+: iommufd_device_bind refuses before any attach check (here a region over a mapping
  // would give EADDRINUSE).
  IoasModel strict(KernelVersion{6, 12});
  Status s = strict.attach(bare, kIntel39);
  EXPECT_EQ(s.error().code, EPERM);
  EXPECT_NE(s.error().message.find("iommufd.allow_unsafe_interrupts is off"), std::string::npos)
      << s.error().message;
  ASSERT_TRUE(strict.attach({"a", {}}, kIntel39).ok());
  ASSERT_TRUE(strict.map(0xfee00000, 0x1000).ok());
  EXPECT_EQ(strict.attach(bare, kIntel39).error().code, EPERM);
  // Before v6.6 the check sat after the device's regions were reserved, at attach.
  IoasModel old(KernelVersion{6, 5});
  ASSERT_TRUE(old.attach({"a", {}}, kIntel39).ok());
  ASSERT_TRUE(old.map(0xfee00000, 0x1000).ok());
  EXPECT_EQ(old.attach(bare, kIntel39).error().code, EADDRINUSE);
  IoasDevice clear = bare;
  clear.regions.clear();
  EXPECT_EQ(old.attach(clear, IoasDomain{"big", Range::all(), 0x200000}).error().code, EPERM);
  EXPECT_EQ(old.usable().size(), 1u);  // nothing stays reserved
  // Isolated, or unsafe interrupts allowed: fine.
  IoasModel lax(KernelVersion{6, 12}, true);
  EXPECT_TRUE(lax.attach(bare, kIntel39).ok());
  bare.msi_isolated = true;
  EXPECT_TRUE(IoasModel(KernelVersion{6, 12}).attach(bare, kIntel39).ok());
}

TEST(Ioas, RaisingTheAlignmentNeedsAlignedMappings) {
  IoasModel ioas;
  ASSERT_TRUE(ioas.map(0x800, 0x800).ok());  // alignment 1: any byte will do
  Status s = ioas.attach({"a", {}}, IoasDomain{"d", Range::all(), 0x1000});
  EXPECT_EQ(s.error().code, EADDRINUSE);
  EXPECT_EQ(ioas.iova_alignment(), 1u);
  // A domain offering 512-byte pages raises it only to 512.
  ASSERT_TRUE(ioas.attach({"b", {}}, IoasDomain{"e", Range::all(), 0x40201200}).ok());
  EXPECT_EQ(ioas.iova_alignment(), 0x200u);
  EXPECT_EQ(ioas.compat_pgsizes(), 0x40201000u);
}

TEST(Ioas, AllowIovas) {
  IoasModel ioas;
  ASSERT_TRUE(
      ioas.attach({"d", {region(0xfee00000, 0xfeefffff, RegionType::kMsi)}}, kIntel39).ok());
  EXPECT_TRUE(ioas.allow_iovas({{0x1000, 0x1fff}, {0x4000, 0x4fff}}).ok());
  EXPECT_EQ(ioas.allow_iovas({{0x1000, 0x1000}}).error().code, EINVAL);  // start == last
  EXPECT_EQ(ioas.allow_iovas({{0x2000, 0x1000}}).error().code, EINVAL);
  EXPECT_EQ(ioas.allow_iovas({{0x1000, 0x2fff}, {0x2000, 0x3fff}}).error().code, EINVAL);
  EXPECT_EQ(ioas.allow_iovas({{0xfe000000, 0xfeffffff}}).error().code, EADDRINUSE);
  EXPECT_EQ(ioas.allow_iovas({{0x8000000000, 0x8000000fff}}).error().code, EADDRINUSE);
  // The allowed list does not change IOVA_RANGES, but blocks a later reservation over it.
  EXPECT_EQ(ioas.usable().size(), 2u);
  Status s = ioas.attach({"e", {region(0x4000, 0x4fff, RegionType::kDirect)}}, kIntel39);
  EXPECT_EQ(s.error().code, EADDRINUSE);
  EXPECT_TRUE(ioas.allow_iovas({}).ok());
  EXPECT_TRUE(ioas.attach({"e", {region(0x4000, 0x4fff, RegionType::kDirect)}}, kIntel39).ok());
}

TEST(Ioas, FixedMapChecks) {
  IoasModel ioas;
  ASSERT_TRUE(ioas.attach({"d", {region(0xfee00000, 0xfeefffff, RegionType::kMsi)}},
                          IoasDomain{"d", Range::all(), 0x1000})
                  .ok());
  EXPECT_EQ(ioas.map(kMaxAddress, 0x1000).error().code, EOVERFLOW);
  EXPECT_EQ(ioas.map(0x1000, 0).error().code, EINVAL);
  EXPECT_EQ(ioas.map(0x1800, 0x1000).error().code, EINVAL);
  EXPECT_EQ(ioas.map(0xfffffffffffff000, 0x2000).error().code, EOVERFLOW);
  EXPECT_EQ(ioas.map(0xfedff000, 0x2000).error().code, EINVAL);  // touches the MSI window
  ASSERT_TRUE(ioas.map(0xfffffffffffff000, 0x1000).ok());        // the very last page
  EXPECT_EQ(ioas.map(0xffffffffffffe000, 0x2000).error().code, EEXIST);
  ASSERT_TRUE(ioas.map(0, 0x1000).ok());
}

TEST(Ioas, CompatInfoReportsTheHoles) {
  IoasModel ioas;
  ASSERT_TRUE(
      ioas.attach({"d", {region(0xfee00000, 0xfeefffff, RegionType::kMsi)}}, kIntel39).ok());
  auto reply = iommufd_compat_get_info(ioas.compat_info_state(), 4096, CapLayout::kAligned);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(*parse_iova_ranges(reply->bytes), ioas.usable());
}

// ---- brute force ------------------------------------------------------------------------------

constexpr uint64_t kU = 0x4000;
using Bits = std::bitset<kU>;

Bits span(uint64_t f, uint64_t l) {
  Bits b;
  for (uint64_t i = f; i <= l && i < kU; ++i) b.set(i);
  return b;
}

struct Model {
  uint64_t base = 0;
  struct Res {
    std::string owner;
    Bits bits;
  };
  std::vector<Res> res;
  struct Dom {
    std::string key;
    uint64_t pg;
    int devices;
  };
  std::vector<Dom> doms;
  std::vector<std::pair<std::string, std::string>> devs;
  std::vector<std::pair<uint64_t, uint64_t>> maps;  // offset, length
  Bits mapped, allowed;
  uint64_t align = 1;

  Bits reserved() const {
    Bits b;
    for (auto& r : res) b |= r.bits;
    return b;
  }
  static uint64_t low(uint64_t pg) { return pg & (~pg + 1); }

  int attach(const std::string& dev,
             const std::vector<std::tuple<uint64_t, uint64_t, RegionType>>& regs,
             const std::string& key, uint64_t af, uint64_t al, uint64_t pg) {
    for (auto& d : devs)
      if (d.first == dev) return EINVAL;
    Bits mine;
    int hw = 0, sw = 0;
    for (auto& [f, l, t] : regs) {
      if (t == RegionType::kDirectRelaxable) continue;
      hw += t == RegionType::kMsi;
      sw += t == RegionType::kSwMsi;
      Bits b = span(f, l);
      if ((b & (mapped | allowed)).any()) return EADDRINUSE;
      mine |= b;
    }
    if ((sw && hw) || sw > 1) return EINVAL;
    auto d = std::find_if(doms.begin(), doms.end(), [&](auto& x) { return x.key == key; });
    if (d == doms.end()) {
      uint64_t na = std::max(low(pg), align);
      if (na > 0x1000) return EINVAL;
      if (na != align)
        for (auto& [o, len] : maps)
          if (((base + o) | len) & (na - 1)) return EADDRINUSE;
      Bits out;
      if (af > 0) out |= span(0, af - 1);
      if (al < kU - 1) out |= span(al + 1, kU - 1);
      if ((out & (mapped | allowed)).any()) return EADDRINUSE;
      res.push_back({"dom:" + key, out});
      doms.push_back({key, pg, 1});
      align = na;
    } else {
      ++d->devices;
    }
    res.push_back({"dev:" + dev, mine});
    devs.emplace_back(dev, key);
    return 0;
  }

  int detach(const std::string& dev) {
    auto it = std::find_if(devs.begin(), devs.end(), [&](auto& x) { return x.first == dev; });
    if (it == devs.end()) return ENOENT;
    std::string key = it->second;
    devs.erase(it);
    std::erase_if(res, [&](auto& r) { return r.owner == "dev:" + dev; });
    auto d = std::find_if(doms.begin(), doms.end(), [&](auto& x) { return x.key == key; });
    if (--d->devices == 0) {
      std::erase_if(res, [&](auto& r) { return r.owner == "dom:" + key; });
      doms.erase(d);
      align = 1;
      for (auto& x : doms) align = std::max(align, low(x.pg));
    }
    return 0;
  }

  int map(uint64_t off, uint64_t len) {
    if (base + off == kMaxAddress || len == kMaxAddress) return EOVERFLOW;  // the ioctl's guard
    if (len == 0 || (len & (align - 1))) return EINVAL;
    if ((base + off) & (align - 1)) return EINVAL;
    if (u128{base} + off + len - 1 > kMaxAddress) return EOVERFLOW;
    Bits b = span(off, off + len - 1);
    // Beyond the universe (at the bottom only) a domain's aperture reservation covers it.
    bool beyond = off + len - 1 >= kU;
    if ((b & reserved()).any() || (beyond && !doms.empty())) return EINVAL;
    if ((b & mapped).any()) return EEXIST;
    if (beyond) return -1;  // not tracked by the model: the caller avoids it
    mapped |= b;
    maps.emplace_back(off, len);
    return 0;
  }

  int allow(const std::vector<std::pair<uint64_t, uint64_t>>& rs) {
    Bits seen;
    for (auto& [f, l] : rs) {
      if (f >= l) return EINVAL;
      Bits b = span(f, l);
      if ((b & seen).any()) return EINVAL;
      seen |= b;
    }
    if ((seen & reserved()).any()) return EADDRINUSE;
    allowed = seen;
    return 0;
  }

  // The holes over the whole space: in the universe from the bitset; outside it, usable only
  // while no domain reserves it.
  std::vector<Range> holes() const {
    RangeSet s;
    Bits r = reserved();
    for (uint64_t i = 0; i < kU; ++i)
      if (!r[i]) s.add(Range{base + i, base + i});
    if (doms.empty()) {
      if (base == 0)
        s.add(Range{kU, kMaxAddress});
      else
        s.add(Range{0, base - 1});
    }
    return s.ranges();
  }
};

rc::Gen<uint64_t> gen_off() {
  return rc::gen::oneOf(rc::gen::inRange<uint64_t>(0, kU),
                        rc::gen::map(rc::gen::inRange<uint64_t>(0, 5), [](uint64_t p) {
                          return std::min<uint64_t>(p * 0x1000, kU - 1);
                        }));
}

rc::Gen<std::pair<uint64_t, uint64_t>> gen_span() {
  return rc::gen::map(rc::gen::pair(gen_off(), gen_off()), [](std::pair<uint64_t, uint64_t> p) {
    return std::make_pair(std::min(p.first, p.second), std::max(p.first, p.second));
  });
}

RC_GTEST_PROP(Ioas, SequencesMatchBruteForce, ()) {
  Model m;
  m.base = *rc::gen::element(uint64_t{0}, kMaxAddress - (kU - 1));
  IoasModel ioas;
  int steps = *rc::gen::inRange(1, 14);
  for (int step = 0; step < steps; ++step) {
    int op = *rc::gen::inRange(0, 5);
    if (op == 0) {
      std::string dev = *rc::gen::element(std::string("d0"), std::string("d1"), std::string("d2"));
      std::string key = *rc::gen::element(std::string("x"), std::string("y"));
      auto [af, al] = *gen_span();
      uint64_t pg = *rc::gen::element(uint64_t{0x1000}, uint64_t{0x40201000}, uint64_t{0x200},
                                      uint64_t{0x2000}, uint64_t{1});
      std::vector<std::tuple<uint64_t, uint64_t, RegionType>> regs;
      IoasDevice device{dev, {}};
      size_t n = *rc::gen::inRange<size_t>(0, 3);
      for (size_t i = 0; i < n; ++i) {
        auto [f, l] = *gen_span();
        RegionType t =
            *rc::gen::element(RegionType::kDirect, RegionType::kDirectRelaxable,
                              RegionType::kReserved, RegionType::kMsi, RegionType::kSwMsi);
        regs.emplace_back(f, l, t);
        device.regions.push_back(region(m.base + f, m.base + l, t));
      }
      int want = m.attach(dev, regs, key, af, al, pg);
      Status got = ioas.attach(device, IoasDomain{key, Range{m.base + af, m.base + al}, pg});
      RC_ASSERT((got.ok() ? 0 : got.error().code) == want);
    } else if (op == 1) {
      std::string dev = *rc::gen::element(std::string("d0"), std::string("d1"), std::string("d2"));
      int want = m.detach(dev);
      Status got = ioas.detach(dev);
      RC_ASSERT((got.ok() ? 0 : got.error().code) == want);
    } else if (op == 2) {
      uint64_t off = *gen_off();
      uint64_t len = *rc::gen::element(uint64_t{0}, uint64_t{1}, uint64_t{0x200}, uint64_t{0x1000},
                                       uint64_t{0x2000}, uint64_t{0x4000});
      Model probe = m;
      if (probe.map(off, len) == -1) continue;  // beyond the modelled universe
      int want = m.map(off, len);
      Status got = ioas.map(m.base + off, len);
      RC_ASSERT((got.ok() ? 0 : got.error().code) == want);
    } else if (op == 3) {
      size_t n = *rc::gen::inRange<size_t>(0, 3);
      std::vector<std::pair<uint64_t, uint64_t>> rs;
      std::vector<IommuIovaRange> in;
      for (size_t i = 0; i < n; ++i) {
        uint64_t f = *gen_off(), l = *gen_off();  // unordered on purpose
        rs.emplace_back(f, l);
        in.push_back(IommuIovaRange{m.base + f, m.base + l});
      }
      int want = m.allow(rs);
      Status got = ioas.allow_iovas(in);
      RC_ASSERT((got.ok() ? 0 : got.error().code) == want);
    } else {
      uint32_t cap = *rc::gen::inRange<uint32_t>(0, 4);
      std::vector<Range> holes = m.holes();
      IovaRangesReply r = ioas.iova_ranges(cap);
      RC_ASSERT(r.num_iovas == holes.size());
      RC_ASSERT(
          r.ranges ==
          std::vector<Range>(holes.begin(), holes.begin() + std::min<size_t>(cap, holes.size())));
      RC_ASSERT(r.status.ok() == (holes.size() <= cap));
      RC_ASSERT(r.alignment == m.align);
    }
    RC_ASSERT(ioas.usable() == m.holes());
  }
}

}  // namespace
}  // namespace iovamap
