#include "iovamap/container.h"

#include <algorithm>
#include <queue>

#include "container_stops.h"
#include "iovamap/assignability.h"
#include "iovamap/msi.h"

namespace iovamap {

namespace {

// Looks the groups up and models each under `policy`, in order.
Result<std::vector<GroupModel>> model_groups(const Host& host, const std::vector<uint32_t>& ids,
                                             Policy policy, std::vector<std::string>* warnings) {
  if (ids.empty()) return make_error(EINVAL, "no group given");
  std::vector<GroupModel> models;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (std::find(ids.begin(), ids.begin() + i, ids[i]) != ids.begin() + i)
      return make_error(EINVAL, "group " + std::to_string(ids[i]) + " is given twice");
    const Group* group = host.find_group(ids[i]);
    if (!group)
      return make_error(ENOENT, "no IOMMU group " + std::to_string(ids[i]) + " in " +
                                    (host.source.empty() ? "this host" : host.source));
    IOVAMAP_ASSIGN_OR_RETURN(GroupModel model, model_group(host, *group, policy));
    for (const std::string& w : model.warnings) warnings->push_back(w);
    if (!model.aperture)
      warnings->push_back("group " + std::to_string(group->id) +
                          ": aperture unknown, taken as [0x0, 0xffffffffffffffff]");
    if (!model.page_sizes)
      warnings->push_back("group " + std::to_string(group->id) +
                          ": page sizes unknown, taken as 4 KiB only");
    models.push_back(std::move(model));
  }
  return models;
}

// Which domain a group can share: same driver, same geometry, same page sizes. (type1 tries to
// attach a new group to each existing domain of the same IOMMU ops; it succeeds when the
// hardware unit can use that domain's page tables.)
std::string domain_key(const Host& host, const Group& group, const GroupModel& model) {
  const IommuUnit* unit = host.iommu_of(group);
  std::string key = unit ? std::string(driver_name(unit->driver)) : "unknown";
  Range aperture = model.aperture ? model.aperture->range : Range::all();
  return key + ":" + to_string(aperture) + ":" + hex(model.page_sizes.value_or(kPageSize));
}

}  // namespace

Type1Group type1_group(const Host& host, const Group& group, const GroupModel& model) {
  return Type1Group{.id = model.group_id,
                    .aperture = model.aperture ? model.aperture->range : Range::all(),
                    .regions = model.regions.regions(),
                    .pgsize_bitmap = model.page_sizes.value_or(kPageSize),
                    .domain_key = domain_key(host, group, model),
                    .msi_isolated = group_msi_isolation(host, group).isolated};
}

IoasDomain ioas_domain(const Host& host, const Group& group, const GroupModel& model) {
  return IoasDomain{.key = domain_key(host, group, model),
                    .aperture = model.aperture ? model.aperture->range : Range::all(),
                    .pgsize_bitmap = model.page_sizes.value_or(kPageSize)};
}

Error msi_explained(Error e, const MsiVerdict& msi, std::string_view module) {
  if (e.code != EPERM) return e;
  e.message += " (from " + msi.why + "); " + msi_advice(module);
  return e;
}

Result<Type1Model> model_type1(const Host& host, const std::vector<uint32_t>& group_ids,
                               Policy policy) {
  Type1Model out{.policy = policy,
                 .container = Type1Container(host.kernel, host.dma_entry_limit.value_or(65535),
                                             host.type1_allow_unsafe_interrupts.value_or(false))};
  IOVAMAP_ASSIGN_OR_RETURN(out.groups, model_groups(host, group_ids, policy, &out.warnings));

  for (const GroupModel& model : out.groups) {
    const Group& group = *host.find_group(model.group_id);
    Type1Group g = type1_group(host, group, model);
    // VFIO_GROUP_SET_CONTAINER claims the group's DMA before VFIO_SET_IOMMU attaches it.
    if (Status s = ownership_refusal(host, group, ContainerRules::kType1); !s)
      return s.error().with_context("attaching group " + std::to_string(g.id));
    if (Status s = out.container.attach(g); !s)
      return msi_explained(s.error(), group_msi_isolation(host, group), "vfio_iommu_type1")
          .with_context("attaching group " + std::to_string(g.id));
  }
  return out;
}

Result<IoasModelResult> model_iommufd(const Host& host, const std::vector<uint32_t>& group_ids,
                                      Policy policy) {
  IoasModelResult out{
      .policy = policy,
      .ioas = IoasModel(host.kernel, host.iommufd_allow_unsafe_interrupts.value_or(false))};
  IOVAMAP_ASSIGN_OR_RETURN(out.groups, model_groups(host, group_ids, policy, &out.warnings));

  for (const GroupModel& model : out.groups) {
    const Group& group = *host.find_group(model.group_id);
    IoasDomain domain = ioas_domain(host, group, model);
    MsiVerdict msi = group_msi_isolation(host, group);
    // Binding checks MSI isolation (in attach, below) before it claims the group's DMA.
    bool msi_refuses = !msi.isolated && !host.iommufd_allow_unsafe_interrupts.value_or(false);
    if (!msi_refuses) {
      if (Status s = ownership_refusal(host, group, ContainerRules::kIommufd); !s)
        return s.error().with_context("binding the devices of group " + std::to_string(group.id));
    }
    for (const Device& device : group.devices) {
      IOVAMAP_ASSIGN_OR_RETURN(std::vector<ReservedRegion> regions,
                               device_regions_for(host, group, device, policy));
      IoasDevice d{
          .name = device.name, .regions = std::move(regions), .msi_isolated = msi.isolated};
      if (Status s = out.ioas.attach(d, domain); !s)
        return msi_explained(s.error(), msi, "iommufd")
            .with_context("attaching device " + device.name + " of group " +
                          std::to_string(group.id));
    }
  }
  return out;
}

std::string_view rules_name(ContainerRules rules) {
  return rules == ContainerRules::kIommufd ? "iommufd" : "vfio-type1";
}

std::optional<std::string> ram_top_warning(const Host& host, const std::vector<Range>& usable) {
  if (!host.ram_top) return std::nullopt;
  if (!usable.empty() && usable.back().last >= *host.ram_top) return std::nullopt;
  std::string end = usable.empty() ? "is empty" : "ends at " + hex(usable.back().last);
  return "the usable space " + end + ", below the host's RAM top " + hex(*host.ram_top) +
         ": RAM above it cannot be DMA-mapped at the same address";
}

namespace detail {

// The parts of the space outside `aperture`, as stops of `group_id`.
void add_aperture_stops(const Aperture& aperture, uint32_t group_id, const std::string& device,
                        std::vector<RangeStop>* out) {
  const Range& a = aperture.range;
  auto add = [&](Range r) {
    out->push_back(RangeStop{.kind = RangeStop::Kind::kAperture,
                             .group_id = group_id,
                             .device = device,
                             .range = r,
                             .provenance = {aperture.provenance}});
  };
  if (a.first > 0) add(Range{0, a.first - 1});
  if (a.last < kMaxAddress) add(Range{a.last + 1, kMaxAddress});
}

// Every region that bars IOVAs (all but direct-relaxable, which type1 and iommufd both let
// user space map over), as stops.
void add_region_stops(const std::vector<ReservedRegion>& regions, uint32_t group_id,
                      const std::string& device, bool aperture_known, std::vector<RangeStop>* out) {
  for (const ReservedRegion& r : regions) {
    if (r.type == RegionType::kDirectRelaxable) continue;
    // The rfc and effective policies list what lies outside the aperture as regions; the
    // aperture's own stops say the same.
    bool only_aperture =
        !r.provenance.empty() &&
        std::all_of(r.provenance.begin(), r.provenance.end(),
                    [](const Provenance& p) { return p.origin == Origin::kAperture; });
    if (aperture_known && only_aperture) continue;
    out->push_back(RangeStop{.kind = RangeStop::Kind::kRegion,
                             .group_id = group_id,
                             .device = device,
                             .range = r.range(),
                             .type = r.type,
                             .provenance = r.provenance});
  }
}

std::vector<RangeStop> type1_stops(const std::vector<GroupModel>& groups) {
  std::vector<RangeStop> stops;
  for (const GroupModel& g : groups) {
    if (g.aperture) add_aperture_stops(*g.aperture, g.group_id, "", &stops);
    add_region_stops(g.regions.regions(), g.group_id, "", g.aperture.has_value(), &stops);
  }
  return stops;
}

}  // namespace detail

namespace {

using detail::add_aperture_stops;
using detail::add_region_stops;

bool same_stop(const RangeStop& a, const RangeStop& b) {
  return a.kind == b.kind && a.group_id == b.group_id && a.device == b.device &&
         a.range == b.range && a.type == b.type && a.provenance == b.provenance;
}

// Fills each range's `below` and `above` with the stops covering the address just outside it.
// One sweep over the stops sorted by start, with a heap of the active ones by end: O((n + m)
// log n) plus what is reported.
void attach_stops(std::vector<RangeStop> stops, std::vector<UsableRange>* usable) {
  std::stable_sort(stops.begin(), stops.end(), [](const RangeStop& a, const RangeStop& b) {
    return a.range.first < b.range.first;
  });
  // The points to explain, ascending: each range's outside neighbours.
  struct Point {
    uint64_t address;
    std::vector<RangeStop>* slot;
  };
  std::vector<Point> points;
  for (UsableRange& u : *usable) {
    if (u.range.first > 0) points.push_back({u.range.first - 1, &u.below});
    if (u.range.last < kMaxAddress) points.push_back({u.range.last + 1, &u.above});
  }
  std::sort(points.begin(), points.end(),
            [](const Point& a, const Point& b) { return a.address < b.address; });
  auto later_end = [&](size_t a, size_t b) { return stops[a].range.last > stops[b].range.last; };
  std::priority_queue<size_t, std::vector<size_t>, decltype(later_end)> active(later_end);
  size_t next = 0;
  for (const Point& p : points) {
    while (next < stops.size() && stops[next].range.first <= p.address) active.push(next++);
    while (!active.empty() && stops[active.top()].range.last < p.address) active.pop();
    // The heap holds every stop that starts at or before p; report those reaching it.
    std::vector<size_t> hits;
    for (auto copy = active; !copy.empty(); copy.pop())
      if (stops[copy.top()].range.last >= p.address) hits.push_back(copy.top());
    std::sort(hits.begin(), hits.end());
    for (size_t i : hits) {
      bool seen = std::any_of(p.slot->begin(), p.slot->end(),
                              [&](const RangeStop& s) { return same_stop(s, stops[i]); });
      if (!seen) p.slot->push_back(stops[i]);
    }
    if (p.slot->empty())
      p.slot->push_back(
          RangeStop{.kind = RangeStop::Kind::kListQuirk, .range = Range{p.address, p.address}});
  }
}

}  // namespace

Result<ContainerReport> describe_container(const Host& host, const std::vector<uint32_t>& group_ids,
                                           Policy policy, ContainerRules rules) {
  ContainerReport out{.rules = rules, .policy = policy, .group_ids = group_ids};
  std::vector<Range> usable;
  std::vector<RangeStop> stops;
  if (rules == ContainerRules::kType1) {
    Result<Type1Model> m = model_type1(host, group_ids, policy);
    if (!m) {
      if (m.error().kind != ErrorKind::kRefused) return m.error();
      out.refusal = m.error();
      return out;
    }
    out.warnings = m->warnings;
    usable = m->container.iova_list();
    if (host.kernel < kType1IovaListFirst) {
      // No list to report: the kernel enforces nothing. What a later kernel would keep is what
      // the IOMMU translates outside the reserved regions: say that, and that it is not enforced.
      for (const GroupModel& g : m->groups) {
        Range a = g.aperture ? g.aperture->range : Range::all();
        type1_aperture_resize(usable, a.first, a.last);
        if (!type1_exclude_regions(usable, g.regions.regions(),
                                   "group " + std::to_string(g.group_id)))
          usable.clear();
      }
      out.warnings.push_back("kernel " + host.kernel.to_string() +
                             ": VFIO type1 keeps no IOVA list before 5.4 and checks MAP_DMA "
                             "against neither apertures nor reserved regions; these ranges are "
                             "what the IOMMU translates outside the reserved regions, and the "
                             "kernel will not stop a mapping elsewhere");
    }
    uint64_t page = smallest_page_size(m->container.pgsize_bitmap());
    out.alignment = page ? page : kPageSize;
    stops = detail::type1_stops(m->groups);
  } else {
    Result<IoasModelResult> m = model_iommufd(host, group_ids, policy);
    if (!m) {
      if (m.error().kind != ErrorKind::kRefused) return m.error();
      out.refusal = m.error();
      return out;
    }
    out.warnings = m->warnings;
    usable = m->ioas.usable();
    out.alignment = std::max<uint64_t>(m->ioas.iova_alignment(), 1);
    // iommufd keeps each device's own regions and each domain's aperture.
    for (const GroupModel& g : m->groups) {
      const Group& group = *host.find_group(g.group_id);
      if (g.aperture) add_aperture_stops(*g.aperture, g.group_id, "", &stops);
      for (const Device& d : group.devices) {
        IOVAMAP_ASSIGN_OR_RETURN(std::vector<ReservedRegion> regions,
                                 device_regions_for(host, group, d, policy));
        add_region_stops(regions, g.group_id, d.name, g.aperture.has_value(), &stops);
      }
    }
  }
  for (const Range& r : usable) out.usable.push_back(UsableRange{.range = r});
  attach_stops(std::move(stops), &out.usable);
  if (std::optional<std::string> w = ram_top_warning(host, usable)) out.warnings.push_back(*w);
  return out;
}

}  // namespace iovamap
