#include "iovamap/container.h"

#include <algorithm>

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
    Result<GroupModel> model = model_group(host, *group, policy);
    if (!model) return model.error();
    for (const std::string& w : model->warnings) warnings->push_back(w);
    if (!model->aperture)
      warnings->push_back("group " + std::to_string(group->id) +
                          ": aperture unknown, taken as [0x0, 0xffffffffffffffff]");
    if (!model->page_sizes)
      warnings->push_back("group " + std::to_string(group->id) +
                          ": page sizes unknown, taken as 4 KiB only");
    models.push_back(std::move(*model));
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
  Result<std::vector<GroupModel>> models = model_groups(host, group_ids, policy, &out.warnings);
  if (!models) return models.error();
  out.groups = std::move(*models);

  for (const GroupModel& model : out.groups) {
    const Group& group = *host.find_group(model.group_id);
    Type1Group g = type1_group(host, group, model);
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
  Result<std::vector<GroupModel>> models = model_groups(host, group_ids, policy, &out.warnings);
  if (!models) return models.error();
  out.groups = std::move(*models);

  for (const GroupModel& model : out.groups) {
    const Group& group = *host.find_group(model.group_id);
    IoasDomain domain = ioas_domain(host, group, model);
    MsiVerdict msi = group_msi_isolation(host, group);
    for (const Device& device : group.devices) {
      Result<std::vector<ReservedRegion>> regions = device_regions_for(host, group, device, policy);
      if (!regions) return regions.error();
      IoasDevice d{
          .name = device.name, .regions = std::move(*regions), .msi_isolated = msi.isolated};
      if (Status s = out.ioas.attach(d, domain); !s)
        return msi_explained(s.error(), msi, "iommufd")
            .with_context("attaching device " + device.name + " of group " +
                          std::to_string(group.id));
    }
  }
  return out;
}

}  // namespace iovamap
