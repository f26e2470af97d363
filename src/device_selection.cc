// Interim selection by group number.
#include "iovamap/device_selection.h"

#include <algorithm>
#include <charconv>

namespace iovamap {

std::vector<uint32_t> Selection::ids() const {
  std::vector<uint32_t> out;
  for (const SelectedGroup& g : groups) out.push_back(g.id);
  return out;
}

Result<Selection> select_groups(const Host& host, const std::vector<std::string>& selectors,
                                const std::vector<std::string>& id_filters, bool all_if_empty) {
  Selection out;
  (void)id_filters;
  if (selectors.empty() && all_if_empty) {
    for (const Group& g : host.groups) out.groups.push_back({g.id, {}, {}});
    return out;
  }
  for (const std::string& name : selectors) {
    uint32_t id = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
    if (ec != std::errc() || end != name.data() + name.size())
      return make_error(EINVAL, "'" + name + "' is not a group number");
    if (!host.find_group(id))
      return make_error(ENOENT, "no group " + name + " in " + host.source +
                                    (host.groups.empty() ? " (it has no IOMMU groups)" : ""));
    for (const SelectedGroup& g : out.groups)
      if (g.id == id) return make_error(EINVAL, "group " + name + " given twice");
    out.groups.push_back({id, {}, {}});
  }
  if (out.groups.empty()) return make_error(EINVAL, "no group or device given");
  return out;
}

Status apply_dma_limits(Host* host, const std::vector<std::string>& specs) {
  for (const std::string& spec : specs) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos)
      return make_error(EINVAL, "--dma-limit " + spec + ": expected BDF=BITS");
    std::string bdf = spec.substr(0, eq);
    unsigned bits = 0;
    std::string_view b = std::string_view(spec).substr(eq + 1);
    auto [end, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (ec != std::errc() || end != b.data() + b.size() || bits < 1 || bits > 64)
      return make_error(EINVAL, "--dma-limit " + spec + ": BITS must be 1 to 64");
    bool found = false;
    for (Group& g : host->groups)
      for (Device& d : g.devices)
        if (d.name == bdf) {
          d.declared_dma_bits = bits;
          d.declared_dma_source = "--dma-limit " + spec;
          found = true;
        }
    if (!found) return make_error(ENODEV, "--dma-limit " + spec + ": no device " + bdf);
  }
  return {};
}

}  // namespace iovamap
