#include "iovamap/policy.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "iovamap/dma_limit.h"

namespace iovamap {

std::string_view policy_name(Policy policy) {
  switch (policy) {
    case Policy::kKernel:
      return "kernel";
    case Policy::kRfc:
      return "rfc";
    case Policy::kRfcFixed:
      return "rfc-fixed";
    case Policy::kEffective:
      return "effective";
  }
  return "effective";
}

Result<Policy> parse_policy(std::string_view name) {
  for (Policy p : {Policy::kKernel, Policy::kRfc, Policy::kRfcFixed, Policy::kEffective}) {
    if (name == policy_name(p)) return p;
  }
  return make_error(
      EINVAL, "unknown policy '" + std::string(name) + "' (kernel, rfc, rfc-fixed, effective)");
}

bool group_has_domain(const Group& group) {
  // sysfs prints "unknown" when the group has no default domain; "blocked" has no geometry.
  return group.type.empty() || group.type == "DMA" || group.type == "DMA-FQ" ||
         group.type == "identity" || group.type == "unmanaged";
}

namespace {

// The unit a device sits behind: its own, else the group's; error when a name is dangling.
Result<const IommuUnit*> unit_of(const Host& host, const Group& group, const Device& device) {
  if (!device.iommu.empty()) {
    const IommuUnit* unit = host.find_iommu(device.iommu);
    if (!unit)
      return make_error(EINVAL, "device " + device.name + " in group " + std::to_string(group.id) +
                                    " names IOMMU '" + device.iommu + "', which the host lacks");
    return unit;
  }
  return host.iommu_of(group);
}

// A generic unit for devices whose IOMMU is not known: no driver windows.
const IommuUnit& unknown_unit() {
  static const IommuUnit unit{.name = "unknown", .driver = "generic"};
  return unit;
}

// The regions outside `aperture`, in the order the RFC adds them: above the end, then below
// the start. `rfc_rules` applies the RFC's conditions (no region when end == start, i.e. a
// degenerate geometry); our effective policy only skips what is empty.
std::vector<ReservedRegion> aperture_regions(const Aperture& aperture, bool rfc_rules) {
  std::vector<ReservedRegion> out;
  const Range& r = aperture.range;
  Provenance above{Origin::kAperture, "above the aperture end " + hex(r.last) +
                                          (aperture.provenance.detail.empty()
                                               ? std::string()
                                               : " (" + aperture.provenance.detail + ")")};
  Provenance below{Origin::kAperture, "below the aperture start " + hex(r.first)};
  bool end_ok = r.last != kMaxAddress && (!rfc_rules || r.last != r.first);
  if (end_ok)
    out.push_back(ReservedRegion::make({r.last + 1, kMaxAddress}, RegionType::kReserved, above));
  if (r.first > 0)
    out.push_back(ReservedRegion::make({0, r.first - 1}, RegionType::kReserved, below));
  return out;
}

// The RFC's dma_mask region: [mask + 1, 2^64-1] for the streaming mask the device has now
// (sysfs dma_mask_bits), whoever set it; none when there is no mask or it is all ones.
std::optional<ReservedRegion> rfc_mask_region(const Device& device) {
  if (!device.dma_mask_bits || *device.dma_mask_bits == 0 || *device.dma_mask_bits >= 64)
    return std::nullopt;
  uint64_t first = uint64_t{1} << *device.dma_mask_bits;
  return ReservedRegion::make(
      {first, kMaxAddress}, RegionType::kReserved,
      Provenance{Origin::kDmaLimit,
                 "device " + device.name + ": dma_mask " + std::to_string(*device.dma_mask_bits) +
                     " bits" + (device.driver.empty() ? "" : " (set by " + device.driver + ")")});
}

}  // namespace

Result<std::vector<ReservedRegion>> device_regions_for(const Host& host, const Group& group,
                                                       const Device& device, Policy policy) {
  IOVAMAP_ASSIGN_OR_RETURN(const IommuUnit* known, unit_of(host, group, device));
  const IommuUnit& unit = known ? *known : unknown_unit();
  std::vector<ReservedRegion> driver = device_regions(unit, device, host.kernel);

  switch (policy) {
    case Policy::kKernel:
      return driver;

    case Policy::kRfc:
    case Policy::kRfcFixed: {
      // The RFC reads the geometry first and returns an empty list when that fails.
      Result<Aperture> aperture = paging_aperture(unit, host.kernel);
      if (!aperture) return std::vector<ReservedRegion>{};
      std::vector<ReservedRegion> out;
      if (group_has_domain(group)) out = aperture_regions(*aperture, /*rfc_rules=*/true);
      out.insert(out.end(), driver.begin(), driver.end());
      if (auto mask = rfc_mask_region(device)) out.push_back(*mask);
      return out;
    }

    case Policy::kEffective: {
      std::vector<ReservedRegion> out;
      if (Result<Aperture> aperture = paging_aperture(unit, host.kernel))
        out = aperture_regions(*aperture, /*rfc_rules=*/false);
      out.insert(out.end(), driver.begin(), driver.end());
      if (auto limit = dma_limit_region(device, dma_limit(device))) out.push_back(*limit);
      return out;
    }
  }
  return driver;
}

Result<GroupModel> model_group(const Host& host, const Group& group, Policy policy) {
  GroupModel model;
  model.group_id = group.id;
  model.regions =
      RegionList(policy == Policy::kKernel || policy == Policy::kRfc ? MergeRule::kKernel
                                                                     : MergeRule::kNoOverflowQuirk);

  // The group's paging-domain geometry, from the unit its devices sit behind.
  const IommuUnit* unit = host.iommu_of(group);
  if (!unit && !group.devices.empty()) {
    model.warnings.push_back("group " + std::to_string(group.id) +
                             ": IOMMU unit unknown; no driver windows or aperture modelled");
  }
  if (unit) {
    if (Result<Aperture> a = paging_aperture(*unit, host.kernel)) {
      model.aperture = *a;
    } else {
      model.warnings.push_back("group " + std::to_string(group.id) + ": " + a.error().message);
    }
    if (Result<uint64_t> p = page_sizes(*unit, host.kernel)) model.page_sizes = *p;
  }

  // iommu_get_group_resv_regions(): each device in group order, each of its regions in order.
  // Since 5.19 the walk stops at the first device without IOMMU ops; 5.10 takes them all. Our
  // effective policy takes every device: a region any member needs binds the whole group.
  for (const Device& device : group.devices) {
    if (!device.has_iommu && policy != Policy::kEffective &&
        host.kernel >= kGroupStopsAtDeviceWithoutIommu)
      break;
    IOVAMAP_ASSIGN_OR_RETURN(std::vector<ReservedRegion> regions,
                             device_regions_for(host, group, device, policy));
    model.regions.insert_all(regions);
  }
  model.regions.regions();  // built now, so that readers on other threads only read
  return model;
}

std::vector<ObservedNote> explain_observed_regions(Host& host) {
  std::vector<ObservedNote> messages;
  for (Group& group : host.groups) {
    if (!group.observed_regions || group.devices.empty()) continue;
    Result<GroupModel> model = model_group(host, group, Policy::kKernel);
    if (!model) continue;
    // What the model derives, as sysfs prints it (it cannot tell MSI from SW_MSI), indexed.
    std::set<std::tuple<uint64_t, uint64_t, std::string_view>> derived;
    for (const ReservedRegion& r : model->regions.regions())
      derived.emplace(r.start, r.last(), sysfs_name(r.type));
    std::vector<ReservedRegion> unexplained;
    for (const ReservedRegion& seen : *group.observed_regions)
      if (!derived.count({seen.start, seen.last(), sysfs_name(seen.type)}))
        unexplained.push_back(seen);
    if (unexplained.empty()) continue;
    // A virtio-iommu answers PROBE per endpoint, the same way for each: every device gets the
    // regions. Elsewhere the first device carries them (one copy merges as the kernel's did).
    const IommuUnit* unit = host.iommu_of(group);
    bool per_endpoint = unit && driver_traits(*unit).regions_probed_per_endpoint;
    for (Device& device : group.devices) {
      for (const ReservedRegion& r : unexplained) {
        ReservedRegion copy = r;
        copy.provenance = {Provenance{
            Origin::kObserved,
            "observed in group " + std::to_string(group.id) + "'s reserved_regions, not derived"}};
        device.firmware_regions.push_back(copy);
      }
      if (!per_endpoint) break;
    }
    messages.push_back(
        {group.id, "group " + std::to_string(group.id) + ": " + std::to_string(unexplained.size()) +
                       " observed region(s) not explained by the driver model; kept as observed"});
  }
  return messages;
}

}  // namespace iovamap
