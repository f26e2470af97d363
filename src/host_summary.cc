// What `iovamap list` shows (host_summary.h).
#include "iovamap/host_summary.h"

namespace iovamap {

HostSummary summarize_host(const LoadedHost& loaded) {
  const Host& h = loaded.host;
  HostSummary out;
  out.notes = loaded.all_notes();
  for (const IommuUnit& u : h.iommus) {
    UnitSummary s{.unit = &u};
    if (Result<Aperture> a = paging_aperture(u, h.kernel)) {
      s.aperture = *a;
    } else {
      s.problem = a.error().message;
      out.notes.push_back(u.name + ": " + a.error().message);
    }
    if (Result<uint64_t> p = page_sizes(u, h.kernel)) s.page_sizes = *p;
    out.units.push_back(std::move(s));
  }
  out.msi = group_msi_isolation(h, Group{});  // a group without devices takes the host's answer
  for (const Group& g : h.groups) {
    GroupSummary gs{.group = &g, .iommu = h.iommu_of(g), .msi = group_msi_isolation(h, g)};
    for (const Device& d : g.devices) gs.devices.push_back(DeviceSummary{&d, dma_limit(d)});
    out.groups.push_back(std::move(gs));
  }
  return out;
}

}  // namespace iovamap
