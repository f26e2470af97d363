#include "iovamap/host.h"

#include "quoted.h"

#include <algorithm>
#include <charconv>

namespace iovamap {

Result<KernelVersion> KernelVersion::parse(std::string_view text) {
  KernelVersion v;
  const char* p = text.data();
  const char* end = p + text.size();
  auto [p1, e1] = std::from_chars(p, end, v.major);
  if (e1 != std::errc() || p1 == end || *p1 != '.')
    return make_error(EINVAL, "bad kernel version " + detail::quoted(text) + " (want e.g. 6.12)");
  auto [p2, e2] = std::from_chars(p1 + 1, end, v.minor);
  if (e2 != std::errc() || v.major < 2 || v.major > 99 || v.minor < 0 || v.minor > 999)
    return make_error(EINVAL, "bad kernel version " + detail::quoted(text) + " (want e.g. 6.12)");
  (void)p2;
  return v;
}

std::string KernelVersion::to_string() const {
  return std::to_string(major) + "." + std::to_string(minor);
}

namespace {

std::optional<uint64_t> lookup(const std::map<std::string, uint64_t, std::less<>>& store,
                               std::string_view key) {
  auto it = store.find(key);
  if (it == store.end()) return std::nullopt;
  return it->second;
}

}  // namespace

std::optional<uint64_t> IommuUnit::reg(std::string_view key) const {
  return lookup(registers, key);
}

std::optional<uint64_t> IommuUnit::setting(std::string_view key) const {
  return lookup(settings, key);
}

const Group* Host::find_group(uint32_t id) const {
  // Sorted by id, as every source leaves them: a bisection. A host built by hand out of order
  // is still answered, by a walk.
  auto it = std::lower_bound(groups.begin(), groups.end(), id,
                             [](const Group& g, uint32_t v) { return g.id < v; });
  if (it != groups.end() && it->id == id) return &*it;
  for (const Group& g : groups)
    if (g.id == id) return &g;
  return nullptr;
}

const IommuUnit* Host::find_iommu(std::string_view name) const {
  for (const IommuUnit& u : iommus)
    if (u.name == name) return &u;
  return nullptr;
}

const IommuUnit* Host::iommu_of(const Group& group) const {
  for (const Device& d : group.devices) {
    if (const IommuUnit* u = find_iommu(d.iommu)) return u;
  }
  return nullptr;
}

}  // namespace iovamap
