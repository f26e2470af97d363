#include "iovamap/region.h"

#include "quoted.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <optional>

namespace iovamap {

std::string_view sysfs_name(RegionType type) {
  switch (type) {
    case RegionType::kDirect:
      return "direct";
    case RegionType::kDirectRelaxable:
      return "direct-relaxable";
    case RegionType::kReserved:
      return "reserved";
    case RegionType::kMsi:
      return "msi";
    case RegionType::kSwMsi:
      return "msi";
  }
  return "unknown";
}

std::string_view type_name(RegionType type) {
  return type == RegionType::kSwMsi ? "sw-msi" : sysfs_name(type);
}

Result<RegionType> parse_region_type(std::string_view name) {
  for (RegionType t : {RegionType::kDirect, RegionType::kDirectRelaxable, RegionType::kReserved,
                       RegionType::kMsi, RegionType::kSwMsi}) {
    if (name == type_name(t)) return t;
  }
  return make_error(EINVAL, "unknown region type " + detail::quoted(name) +
                                " (direct, direct-relaxable, reserved, msi, sw-msi)");
}

std::string_view origin_name(Origin origin) {
  switch (origin) {
    case Origin::kDriver:
      return "driver";
    case Origin::kFirmware:
      return "firmware";
    case Origin::kAperture:
      return "aperture";
    case Origin::kDmaLimit:
      return "dma-limit";
    case Origin::kObserved:
      return "observed";
    case Origin::kUser:
      return "user";
  }
  return "unknown";
}

std::string provenance_text(const std::vector<Provenance>& provenance) {
  std::string out;
  for (const Provenance& p : provenance) {
    if (!out.empty()) out += "; ";
    out += origin_name(p.origin);
    if (!p.detail.empty()) out += ": " + p.detail;
  }
  return out;
}

ReservedRegion ReservedRegion::make(const Range& range, RegionType type, Provenance provenance) {
  ReservedRegion region;
  region.start = range.first;
  region.length = range.last - range.first + 1;  // wraps to 0 for all 2^64 addresses
  region.type = type;
  if (!provenance.detail.empty() || provenance.origin != Origin::kDriver)
    region.provenance.push_back(std::move(provenance));
  return region;
}

namespace {

// The most distinct sources one region lists; a region merged from more says so once.
constexpr size_t kMaxProvenance = 64;

void add_provenance(std::vector<Provenance>& into, Provenance p) {
  if (std::find(into.begin(), into.end(), p) != into.end()) return;
  if (into.size() < kMaxProvenance) {
    into.push_back(std::move(p));
  } else if (into.size() == kMaxProvenance) {
    into.push_back(Provenance{p.origin, "and more sources, not listed"});
  }
}

}  // namespace

void RegionList::insert(const ReservedRegion& region) {
  // The kernel places the new entry before the first that starts later, or at the same address
  // with a type value at least as large, then makes one pass over the whole list that merges
  // entries of the inserted type only, each into the last kept entry of that type. Entries of
  // one type therefore stay sorted and each is separate from the one before it (a gap, or the
  // overflow quirk), so that pass can only merge the new entry with its neighbours of its type:
  // into the one before it, then the ones after it while they reach. Kept per type, sorted by
  // start (a new entry before equal starts), that is O(log n) plus the entries merged.
  auto& of_type = by_type_[static_cast<size_t>(region.type)];
  auto it = of_type.emplace_hint(of_type.lower_bound(region.start), region.start, region);
  // Whether `r` stays apart from `top`, the last kept entry of its type. The end + 1 wraps
  // when top ends at 2^64-1: the overflow quirk.
  auto separate = [&](const ReservedRegion& top, const ReservedRegion& r) {
    uint64_t top_end = top.last();
    if (rule_ == MergeRule::kNoOverflowQuirk && top_end == kMaxAddress) return false;
    return r.start > top_end + 1;
  };
  auto absorb = [](ReservedRegion& top, ReservedRegion& r) {
    top.length = std::max(top.last(), r.last()) - top.start + 1;  // wraps to 0 over all 2^64
    for (Provenance& p : r.provenance) add_provenance(top.provenance, std::move(p));
  };
  auto kept = it;
  if (it != of_type.begin()) {
    auto before = std::prev(it);
    if (!separate(before->second, it->second)) {
      absorb(before->second, it->second);
      of_type.erase(it);
      kept = before;
    }
  }
  for (auto next = std::next(kept);
       next != of_type.end() && !separate(kept->second, next->second);) {
    absorb(kept->second, next->second);
    next = of_type.erase(next);
  }
  flat_.reset();
}

const std::vector<ReservedRegion>& RegionList::regions() const {
  if (flat_) return *flat_;
  // All types together, sorted by (start, type); within a type, in its own order.
  std::vector<ReservedRegion> out;
  std::array<std::multimap<uint64_t, ReservedRegion>::const_iterator, kRegionTypes> at;
  for (size_t t = 0; t < kRegionTypes; ++t) at[t] = by_type_[t].begin();
  for (;;) {
    size_t best = kRegionTypes;
    for (size_t t = 0; t < kRegionTypes; ++t)
      if (at[t] != by_type_[t].end() && (best == kRegionTypes || at[t]->first < at[best]->first))
        best = t;  // ties go to the lower type value, found first
    if (best == kRegionTypes) break;
    out.push_back((at[best]++)->second);
  }
  flat_ = std::make_shared<const std::vector<ReservedRegion>>(std::move(out));
  return *flat_;
}

bool RegionList::empty() const {
  for (const auto& of_type : by_type_)
    if (!of_type.empty()) return false;
  return true;
}

void RegionList::insert_all(const std::vector<ReservedRegion>& regions) {
  for (const ReservedRegion& r : regions) insert(r);
}

std::string RegionList::to_sysfs() const {
  return iovamap::to_sysfs(regions());
}

std::string to_sysfs(const std::vector<ReservedRegion>& regions) {
  std::string out;
  for (const ReservedRegion& r : regions) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "0x%016" PRIx64 " 0x%016" PRIx64 " ", r.start, r.last());
    out += buf;
    out += sysfs_name(r.type);
    out += '\n';
  }
  return out;
}

namespace {

// Parses exactly "0x" followed by 16 lower- or upper-case hex digits.
bool parse_hex16(std::string_view s, uint64_t* value) {
  if (s.size() != 18 || s[0] != '0' || s[1] != 'x') return false;
  uint64_t v = 0;
  for (char c : s.substr(2)) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    v = v << 4 | static_cast<uint64_t>(d);
  }
  *value = v;
  return true;
}

}  // namespace

Result<std::vector<ReservedRegion>> parse_sysfs_regions(std::string_view text,
                                                        const std::string& file_name) {
  std::vector<ReservedRegion> regions;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    size_t eol = text.find('\n');
    if (eol == std::string_view::npos)
      return make_error(EINVAL, file_name + ":" + std::to_string(line_number) +
                                    ": last line has no newline (truncated file?)");
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol + 1);
    auto where = [&] { return file_name + ":" + std::to_string(line_number) + ": "; };

    size_t sp1 = line.find(' ');
    size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos)
      return make_error(EINVAL, where() + "expected '0x<start> 0x<end> <type>'");
    uint64_t start = 0, end = 0;
    if (!parse_hex16(line.substr(0, sp1), &start) ||
        !parse_hex16(line.substr(sp1 + 1, sp2 - sp1 - 1), &end))
      return make_error(EINVAL, where() + "addresses must be 0x followed by 16 hex digits");
    std::string_view type_text = line.substr(sp2 + 1);
    // sysfs spellings only: "msi" stands for both MSI and SW_MSI there, "sw-msi" is ours.
    std::optional<RegionType> type;
    for (RegionType t : {RegionType::kDirect, RegionType::kDirectRelaxable, RegionType::kReserved,
                         RegionType::kMsi})
      if (type_text == sysfs_name(t)) type = t;
    if (!type)
      return make_error(EINVAL, where() + "unknown region type " + detail::quoted(type_text) +
                                    " (the kernel writes direct, direct-relaxable, reserved or "
                                    "msi)");
    if (end < start) return make_error(EINVAL, where() + "end " + hex(end) + " is below start");
    regions.push_back(
        ReservedRegion::make(Range{start, end}, *type, Provenance{Origin::kObserved, file_name}));
  }
  return regions;
}

}  // namespace iovamap
