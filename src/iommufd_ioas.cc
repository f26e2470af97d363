#include "iovamap/iommufd_ioas.h"

#include <algorithm>
#include <bit>

#include "iovamap/range_set.h"

namespace iovamap {
namespace {

std::string dev_owner(const std::string& name) {
  return "dev:" + name;
}
std::string dom_owner(const std::string& key) {
  return "dom:" + key;
}

// 1 << __ffs(bitmap): the smallest page size; a domain without sizes counts as PAGE_SIZE.
uint64_t smallest_page(uint64_t bitmap) {
  return bitmap ? smallest_page_size(bitmap) : kPageSize;
}

}  // namespace

bool IoasModel::reserved_overlaps(const Range& r, const Reservation** hit) const {
  for (const Reservation& res : reserved_) {
    if (res.range.overlaps(r)) {
      if (hit) *hit = &res;
      return true;
    }
  }
  return false;
}

const Range* IoasModel::mapping_overlapping(const Range& r) const {
  for (const Range& m : mappings_)
    if (m.overlaps(r)) return &m;
  return nullptr;
}

const Range* IoasModel::allowed_overlapping(const Range& r) const {
  for (const Range& a : allowed_)
    if (a.overlaps(r)) return &a;
  return nullptr;
}

Status IoasModel::reserve(const Range& r, const std::string& owner, const std::string& why) {
  // iopt_reserve_iova: a reservation may not cover a mapping or an allowed range; it may
  // overlap other reservations freely (the tree is not merged).
  if (const Range* m = mapping_overlapping(r))
    return make_refusal(EADDRINUSE,
                        why + " " + to_string(r) + " overlaps mapping " + to_string(*m));
  if (const Range* a = allowed_overlapping(r))
    return make_refusal(EADDRINUSE,
                        why + " " + to_string(r) + " overlaps allowed range " + to_string(*a));
  reserved_.push_back(Reservation{r, owner, why});
  return {};
}

void IoasModel::unreserve(const std::string& owner) {
  std::erase_if(reserved_, [&](const Reservation& r) { return r.owner == owner; });
}

void IoasModel::recompute_alignment() {
  // iopt_calculate_iova_alignment: the largest smallest-page-size over the domains, from 1.
  uint64_t a = 1;
  for (const DomainState& d : domains_) a = std::max(a, smallest_page(d.domain.pgsize_bitmap));
  alignment_ = a;
}

Status IoasModel::msi_check(const IoasDevice& device) const {
  if (device.msi_isolated || allow_unsafe_interrupts_) return {};
  return make_refusal(EPERM,
                      "device " + device.name +
                          ": its MSIs are not isolated (no interrupt remapping) and "
                          "iommufd.allow_unsafe_interrupts is off: the kernel refuses to bind it");
}

Status IoasModel::attach(const IoasDevice& device, const IoasDomain& domain) {
  std::string who = "device " + device.name;
  if (std::any_of(devices_.begin(), devices_.end(),
                  [&](const auto& d) { return d.first == device.name; }))
    return make_refusal(EINVAL, who + " is already attached to this IOAS");
  // Since v6.6 iommufd_device_bind checks MSI isolation (iommu_group_has_isolated_msi) before
  // the device can be attached at all ("iommufd: Move isolated msi enforcement to
  // iommufd_device_bind()").
  bool check_at_bind = kernel_ >= KernelVersion{6, 6};
  if (check_at_bind) IOVAMAP_RETURN_IF_ERROR(msi_check(device));

  // iopt_table_enforce_dev_resv_regions: each region but direct-relaxable becomes a
  // reservation owned by the device; then MSI sanity.
  std::string owner = dev_owner(device.name);
  int hw_msi = 0, sw_msi = 0;
  for (const ReservedRegion& r : device.regions) {
    if (r.type == RegionType::kDirectRelaxable) continue;
    if (r.type == RegionType::kMsi) ++hw_msi;
    if (r.type == RegionType::kSwMsi) ++sw_msi;
    if (Status s =
            reserve(r.range(), owner, who + ": " + std::string(type_name(r.type)) + " region");
        !s) {
      unreserve(owner);
      return s;
    }
  }
  if ((sw_msi && hw_msi) || sw_msi > 1) {
    unreserve(owner);
    return make_refusal(EINVAL, who + ": its driver reports " + std::to_string(hw_msi) +
                                    " MSI and " + std::to_string(sw_msi) +
                                    " SW_MSI windows (iommufd accepts one kind, one SW_MSI)");
  }
  // Before v6.6 the check sat in iommufd_device_setup_msi, after the device's reserved
  // regions were enforced and before the domain joined the IOAS.
  if (!check_at_bind)
    if (Status s = msi_check(device); !s) {
      unreserve(owner);
      return s;
    }

  auto existing = std::find_if(domains_.begin(), domains_.end(),
                               [&](const DomainState& d) { return d.domain.key == domain.key; });
  if (existing != domains_.end()) {
    existing->devices.push_back(device.name);
    devices_.emplace_back(device.name, domain.key);
    return {};
  }

  // iopt_table_add_domain for a new paging domain.
  auto fail = [&](Error e) {
    unreserve(dom_owner(domain.key));
    unreserve(owner);
    return e;
  };
  std::string dom = "domain " + domain.key;
  uint64_t smallest = smallest_page(domain.pgsize_bitmap);
  uint64_t new_alignment = std::max(smallest, alignment_);
  if (new_alignment > kPageSize)
    return fail(make_refusal(EINVAL, dom + ": smallest page size " + human_size(smallest) +
                                         " is above the 4 KiB iommufd requires"));
  if (new_alignment != alignment_) {
    for (const Range& m : mappings_) {
      if ((m.first & (new_alignment - 1)) ||
          (static_cast<uint64_t>(m.size()) & (new_alignment - 1)))
        return fail(make_refusal(
            EADDRINUSE,
            dom + ": mapping " + to_string(m) + " is not aligned to " + human_size(new_alignment)));
    }
  }
  if (domain.aperture.first != 0) {
    if (Status s = reserve(Range{0, domain.aperture.first - 1}, dom_owner(domain.key),
                           dom + ": below its aperture");
        !s)
      return fail(s.error());
  }
  if (domain.aperture.last != kMaxAddress) {
    if (Status s = reserve(Range{domain.aperture.last + 1, kMaxAddress}, dom_owner(domain.key),
                           dom + ": above its aperture");
        !s)
      return fail(s.error());
  }
  domains_.push_back(DomainState{domain, {device.name}});
  devices_.emplace_back(device.name, domain.key);
  alignment_ = new_alignment;
  return {};
}

Status IoasModel::detach(const std::string& device) {
  auto it = std::find_if(devices_.begin(), devices_.end(),
                         [&](const auto& d) { return d.first == device; });
  if (it == devices_.end())
    return make_refusal(ENOENT, "device " + device + " is not attached to this IOAS");
  std::string key = it->second;
  devices_.erase(it);
  unreserve(dev_owner(device));
  auto d = std::find_if(domains_.begin(), domains_.end(),
                        [&](const DomainState& s) { return s.domain.key == key; });
  std::erase(d->devices, device);
  if (d->devices.empty()) {
    // iopt_table_remove_domain: its aperture reservations go, the alignment is recomputed.
    unreserve(dom_owner(key));
    domains_.erase(d);
    recompute_alignment();
  }
  return {};
}

Status IoasModel::map(uint64_t iova, uint64_t length) {
  std::string what = "IOAS_MAP iova " + hex(iova) + " length " + hex(length);
  // iommufd_ioas_map refuses ULONG_MAX itself; then iopt_map_pages / iopt_check_iova.
  if (iova == kMaxAddress || length == kMaxAddress)
    return make_refusal(EOVERFLOW, what + ": iova or length is 2^64-1");
  if (length == 0 || (length & (alignment_ - 1)))
    return make_refusal(EINVAL,
                        what + ": length must be a non-zero multiple of " + human_size(alignment_));
  if (iova & (alignment_ - 1))
    return make_refusal(EINVAL, what + ": iova must be a multiple of " + human_size(alignment_));
  if (iova + (length - 1) < iova) return make_refusal(EOVERFLOW, what + ": wraps past 2^64-1");
  Range r{iova, iova + length - 1};
  const Reservation* hit = nullptr;
  if (reserved_overlaps(r, &hit))
    return make_refusal(EINVAL, what + ": touches " + hit->why + " " + to_string(hit->range));
  if (const Range* m = mapping_overlapping(r))
    return make_refusal(EEXIST, what + ": overlaps mapping " + to_string(*m));
  mappings_.push_back(r);
  return {};
}

Status IoasModel::allow_iovas(const std::vector<IommuIovaRange>& ranges) {
  // iommufd_ioas_load_iovas: each range must have start < last and miss the earlier ones.
  std::vector<Range> loaded;
  for (size_t i = 0; i < ranges.size(); ++i) {
    const IommuIovaRange& in = ranges[i];
    std::string which =
        "ALLOW_IOVAS range " + std::to_string(i) + " [" + hex(in.start) + ", " + hex(in.last) + "]";
    if (in.start >= in.last) return make_refusal(EINVAL, which + ": start must be below last");
    Range r{in.start, in.last};
    for (const Range& prev : loaded)
      if (prev.overlaps(r))
        return make_refusal(EINVAL, which + ": overlaps " + to_string(prev) + " of the same list");
    loaded.push_back(r);
  }
  // iopt_set_allow_iova: no allowed range may meet a reservation.
  for (const Range& r : loaded) {
    const Reservation* hit = nullptr;
    if (reserved_overlaps(r, &hit))
      return make_refusal(EADDRINUSE, "ALLOW_IOVAS range " + to_string(r) + " meets " + hit->why +
                                          " " + to_string(hit->range));
  }
  allowed_ = std::move(loaded);
  return {};
}

std::vector<Range> IoasModel::usable() const {
  std::vector<Range> reserved;
  reserved.reserve(reserved_.size());
  for (const Reservation& r : reserved_) reserved.push_back(r.range);
  return RangeSet::from_ranges(reserved).complement().ranges();  // O(n log n)
}

IovaRangesReply IoasModel::iova_ranges(uint32_t capacity) const {
  // iommufd_ioas_iova_ranges: walk every hole, copy those that fit, count them all.
  IovaRangesReply reply;
  std::vector<Range> holes = usable();
  reply.num_iovas = static_cast<uint32_t>(holes.size());
  reply.alignment = alignment_;
  for (size_t i = 0; i < holes.size() && i < capacity; ++i) reply.ranges.push_back(holes[i]);
  if (reply.num_iovas > capacity)
    reply.status =
        make_refusal(EMSGSIZE, "IOAS_IOVA_RANGES: " + std::to_string(reply.num_iovas) +
                                   " ranges do not fit in room for " + std::to_string(capacity));
  return reply;
}

uint64_t IoasModel::compat_pgsizes() const {
  // iommufd_get_pagesizes (vfio_compat.c): AND over the domains, sub-page sizes folded into
  // PAGE_SIZE, and never below the IOAS alignment.
  uint64_t bitmap = ~uint64_t{0};
  for (const DomainState& d : domains_) bitmap &= d.domain.pgsize_bitmap;
  if (bitmap & (kPageSize - 1)) {
    bitmap &= ~(kPageSize - 1);
    bitmap |= kPageSize;
  }
  return std::max(bitmap, alignment_);
}

CompatInfoState IoasModel::compat_info_state() const {
  return CompatInfoState{compat_pgsizes(), 0xffffffff, usable()};
}

}  // namespace iovamap
