#include "iovamap/region.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

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
  return make_error(EINVAL, "unknown region type '" + std::string(name) +
                                "' (direct, direct-relaxable, reserved, msi, sw-msi)");
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

void RegionList::insert(const ReservedRegion& region) {
  // 1. Place a copy before the first entry that starts later, or starts at the same address
  //    with a type value at least as large.
  auto at = std::find_if(regions_.begin(), regions_.end(), [&](const ReservedRegion& r) {
    return region.start < r.start || (region.start == r.start && region.type <= r.type);
  });
  regions_.insert(at, region);

  // 2. One pass that merges entries of the inserted type only, each into the last kept entry
  //    of that type. `kept` plays the role of the kernel's stack.
  std::vector<ReservedRegion> kept;
  kept.reserve(regions_.size());
  for (ReservedRegion& r : regions_) {
    if (r.type != region.type) {
      kept.push_back(std::move(r));
      continue;
    }
    auto top = std::find_if(kept.rbegin(), kept.rend(),
                            [&](const ReservedRegion& k) { return k.type == r.type; });
    if (top == kept.rend()) {
      kept.push_back(std::move(r));
      continue;
    }
    uint64_t top_end = top->last();
    uint64_t r_end = r.last();
    bool separate = r.start > top_end + 1;  // wraps when top_end is 2^64-1: the quirk
    if (rule_ == MergeRule::kNoOverflowQuirk && top_end == kMaxAddress) separate = false;
    if (separate) {
      kept.push_back(std::move(r));
    } else {
      top->length = std::max(top_end, r_end) - top->start + 1;  // wraps to 0 over all 2^64
      for (Provenance& p : r.provenance) {
        if (std::find(top->provenance.begin(), top->provenance.end(), p) == top->provenance.end())
          top->provenance.push_back(std::move(p));
      }
    }
  }
  regions_ = std::move(kept);
}

void RegionList::insert_all(const std::vector<ReservedRegion>& regions) {
  for (const ReservedRegion& r : regions) insert(r);
}

std::string RegionList::to_sysfs() const {
  return iovamap::to_sysfs(regions_);
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
    if (type_text == "sw-msi")  // not a sysfs spelling
      return make_error(EINVAL, where() + "unknown region type 'sw-msi'");
    Result<RegionType> type = parse_region_type(type_text);
    if (!type) return type.error().with_context(where().substr(0, where().size() - 2));
    if (end < start) return make_error(EINVAL, where() + "end " + hex(end) + " is below start");
    regions.push_back(
        ReservedRegion::make(Range{start, end}, *type, Provenance{Origin::kObserved, file_name}));
  }
  return regions;
}

}  // namespace iovamap
