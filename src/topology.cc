#include "iovamap/topology.h"

#include <toml++/toml.h>
#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

#include "iommu_driver_registry.h"
#include "iovamap/discovery.h"
#include "iovamap/quantity.h"

namespace iovamap {

namespace {

// Everything a parse step needs to say where it is.
struct Ctx {
  const std::string& file;
  Error at(const toml::node& node, const std::string& what) const {
    return make_error(EINVAL, file + ":" + std::to_string(node.source().begin.line) + ": " + what);
  }
};

using Handler = std::function<Status(const toml::node&)>;

// Calls the handler of each key of `table`; unknown keys and missing required keys are errors.
Status each_key(const Ctx& ctx, const toml::table& table, std::string_view what,
                const std::map<std::string, Handler, std::less<>>& handlers,
                std::initializer_list<std::string_view> required) {
  for (auto&& [key, node] : table) {
    auto it = handlers.find(key.str());
    if (it == handlers.end()) {
      std::string known;
      for (const auto& [k, h] : handlers) known += (known.empty() ? "" : ", ") + k;
      return ctx.at(node, "unknown key '" + std::string(key.str()) + "' in " + std::string(what) +
                              " (known: " + known + ")");
    }
    IOVAMAP_RETURN_IF_ERROR(it->second(node));
  }
  for (std::string_view key : required) {
    if (!table.contains(key))
      return ctx.at(table, std::string(what) + " needs '" + std::string(key) + "'");
  }
  return {};
}

Result<std::string> get_string(const Ctx& ctx, const toml::node& node, std::string_view key) {
  if (const auto* s = node.as_string()) return s->get();
  return ctx.at(node, "'" + std::string(key) + "' must be a string");
}

// A quantity: a string ("0xfee00000", "16MiB") or a non-negative integer.
Result<u128> get_size(const Ctx& ctx, const toml::node& node, std::string_view key) {
  if (const auto* i = node.as_integer()) {
    if (i->get() < 0) return ctx.at(node, "'" + std::string(key) + "' must not be negative");
    return static_cast<u128>(i->get());
  }
  if (const auto* s = node.as_string()) {
    Result<u128> v = parse_size(s->get());
    if (!v) return ctx.at(node, "'" + std::string(key) + "': " + v.error().message);
    return v;
  }
  return ctx.at(node, "'" + std::string(key) + "' must be a string like \"0x1000\" or an integer");
}

Result<uint64_t> get_u64(const Ctx& ctx, const toml::node& node, std::string_view key,
                         uint64_t max = kMaxAddress) {
  IOVAMAP_ASSIGN_OR_RETURN(u128 v, get_size(ctx, node, key));
  if (v > max) return ctx.at(node, "'" + std::string(key) + "' is above " + hex(max));
  return static_cast<uint64_t>(v);
}

Result<bool> get_bool(const Ctx& ctx, const toml::node& node, std::string_view key) {
  if (const auto* b = node.as_boolean()) return b->get();
  return ctx.at(node, "'" + std::string(key) + "' must be true or false");
}

Result<unsigned> get_bits(const Ctx& ctx, const toml::node& node, std::string_view key) {
  IOVAMAP_ASSIGN_OR_RETURN(uint64_t v, get_u64(ctx, node, key));
  if (v == 0 || v > 64) return ctx.at(node, "'" + std::string(key) + "' must be 1 to 64");
  return static_cast<unsigned>(v);
}

// [first, last] from a two-element array.
Result<Range> get_pair_range(const Ctx& ctx, const toml::node& node, std::string_view key) {
  const toml::array* a = node.as_array();
  if (a == nullptr || a->size() != 2)
    return ctx.at(node, "'" + std::string(key) + "' must be [first, last]");
  IOVAMAP_ASSIGN_OR_RETURN(uint64_t first, get_u64(ctx, (*a)[0], key));
  IOVAMAP_ASSIGN_OR_RETURN(uint64_t last, get_u64(ctx, (*a)[1], key));
  if (first > last) return ctx.at(node, "'" + std::string(key) + "': first is above last");
  return Range{first, last};
}

// One firmware region: { first, last, type } or { start, size, type }.
Result<ReservedRegion> get_region(const Ctx& ctx, const toml::node& node,
                                  const std::string& device) {
  const toml::table* t = node.as_table();
  if (t == nullptr)
    return ctx.at(node,
                  "a region must be a table like { first = \"0x0\", last = \"0xffffff\", "
                  "type = \"direct\" }");
  std::optional<uint64_t> first, last, start;
  std::optional<u128> size;
  RegionType type = RegionType::kReserved;
  std::string source = "firmware region of " + device;
  Status s = each_key(ctx, *t, "region",
                      {{"first",
                        [&](const toml::node& n) -> Status {
                          IOVAMAP_ASSIGN_OR_RETURN(first, get_u64(ctx, n, "first"));
                          return {};
                        }},
                       {"last",
                        [&](const toml::node& n) -> Status {
                          IOVAMAP_ASSIGN_OR_RETURN(last, get_u64(ctx, n, "last"));
                          return {};
                        }},
                       {"start",
                        [&](const toml::node& n) -> Status {
                          IOVAMAP_ASSIGN_OR_RETURN(start, get_u64(ctx, n, "start"));
                          return {};
                        }},
                       {"size",
                        [&](const toml::node& n) -> Status {
                          IOVAMAP_ASSIGN_OR_RETURN(size, get_size(ctx, n, "size"));
                          return {};
                        }},
                       {"type",
                        [&](const toml::node& n) -> Status {
                          IOVAMAP_ASSIGN_OR_RETURN(std::string v, get_string(ctx, n, "type"));
                          Result<RegionType> rt = parse_region_type(v);
                          if (!rt) return ctx.at(n, rt.error().message);
                          type = *rt;
                          return {};
                        }},
                       {"source",
                        [&](const toml::node& n) -> Status {
                          IOVAMAP_ASSIGN_OR_RETURN(source, get_string(ctx, n, "source"));
                          return {};
                        }}},
                      {"type"});
  if (!s) return s.error();
  Range range;
  if (first && last && !start && !size) {
    if (*first > *last) return ctx.at(node, "region: first " + hex(*first) + " is above last");
    range = Range{*first, *last};
  } else if (start && size && !first && !last) {
    if (*size == 0) return ctx.at(node, "region: size 0");
    if (*size - 1 > kMaxAddress - *start) return ctx.at(node, "region: passes 2^64-1");
    range = Range{*start, static_cast<uint64_t>(*start + (*size - 1))};
  } else {
    return ctx.at(node, "region needs either first and last, or start and size");
  }
  return ReservedRegion::make(range, type, Provenance{Origin::kFirmware, source});
}

Result<Device> get_device(const Ctx& ctx, const toml::node& node, const std::string& group_iommu) {
  const toml::table* t = node.as_table();
  if (t == nullptr) return ctx.at(node, "[[group.device]] must be a table");
  Device dev;
  dev.iommu = group_iommu;
  auto u16_field = [&](uint16_t* out, std::string_view key) {
    return [&ctx, out, key](const toml::node& n) -> Status {
      IOVAMAP_ASSIGN_OR_RETURN(uint64_t v, get_u64(ctx, n, key, 0xffff));
      *out = static_cast<uint16_t>(v);
      return {};
    };
  };
  auto name_field = [&](const toml::node& n) -> Status {
    IOVAMAP_ASSIGN_OR_RETURN(std::string v, get_string(ctx, n, "bdf"));
    if (v.empty()) return ctx.at(n, "device name is empty");
    if (!dev.name.empty()) return ctx.at(n, "give either 'bdf' or 'name', not both");
    dev.name = v;
    return {};
  };
  Status s =
      each_key(ctx, *t, "[[group.device]]",
               {{"bdf", name_field},
                {"name", name_field},
                {"vendor", u16_field(&dev.vendor, "vendor")},
                {"device-id", u16_field(&dev.device_id, "device-id")},
                {"class",
                 [&](const toml::node& n) -> Status {
                   IOVAMAP_ASSIGN_OR_RETURN(uint64_t v, get_u64(ctx, n, "class", 0xffffff));
                   dev.class_code = static_cast<uint32_t>(v);
                   return {};
                 }},
                {"driver",
                 [&](const toml::node& n) -> Status {
                   IOVAMAP_ASSIGN_OR_RETURN(dev.driver, get_string(ctx, n, "driver"));
                   return {};
                 }},
                {"dma-bits",
                 [&](const toml::node& n) -> Status {
                   IOVAMAP_ASSIGN_OR_RETURN(dev.declared_dma_bits, get_bits(ctx, n, "dma-bits"));
                   dev.declared_dma_source =
                       "topology " + ctx.file + ":" + std::to_string(n.source().begin.line);
                   return {};
                 }},
                {"firmware-dma-bits",
                 [&](const toml::node& n) -> Status {
                   IOVAMAP_ASSIGN_OR_RETURN(unsigned bits, get_bits(ctx, n, "firmware-dma-bits"));
                   dev.firmware_dma_limit = FirmwareDmaLimit{
                       bits >= 64 ? kMaxAddress : (uint64_t{1} << bits) - 1,
                       "topology " + ctx.file + ":" + std::to_string(n.source().begin.line) +
                           ": firmware-dma-bits " + std::to_string(bits) +
                           " (the interconnect's limit, declared)"};
                   return {};
                 }},
                {"dma-mask-bits",
                 [&](const toml::node& n) -> Status {
                   IOVAMAP_ASSIGN_OR_RETURN(dev.dma_mask_bits, get_bits(ctx, n, "dma-mask-bits"));
                   return {};
                 }},
                {"iommu",
                 [&](const toml::node& n) -> Status {
                   IOVAMAP_ASSIGN_OR_RETURN(dev.iommu, get_string(ctx, n, "iommu"));
                   return {};
                 }},
                {"has-iommu",
                 [&](const toml::node& n) -> Status {
                   IOVAMAP_ASSIGN_OR_RETURN(dev.has_iommu, get_bool(ctx, n, "has-iommu"));
                   return {};
                 }},
                {"regions",
                 [&](const toml::node& n) -> Status {
                   const toml::array* a = n.as_array();
                   if (a == nullptr) return ctx.at(n, "'regions' must be an array of tables");
                   for (const toml::node& r : *a) {
                     IOVAMAP_ASSIGN_OR_RETURN(
                         ReservedRegion region,
                         get_region(ctx, r, dev.name.empty() ? "the device" : dev.name));
                     dev.firmware_regions.push_back(std::move(region));
                   }
                   return {};
                 }}},
               {});
  if (!s) return s.error();
  if (dev.name.empty()) return ctx.at(node, "[[group.device]] needs 'bdf' (or 'name')");
  dev.is_pci = is_pci_address(dev.name);
  for (ReservedRegion& r : dev.firmware_regions)
    if (r.provenance.size() == 1 && r.provenance[0].detail == "firmware region of the device")
      r.provenance[0].detail = "firmware region of " + dev.name;
  return dev;
}

// A driver fact's value as its type says a topology writes it.
Result<uint64_t> get_fact(const Ctx& ctx, const toml::node& node, const detail::UnitFact& fact) {
  const std::string key(fact.topology_key);
  switch (fact.type) {
    case detail::FactType::kBool: {
      IOVAMAP_ASSIGN_OR_RETURN(bool v, get_bool(ctx, node, key));
      return v ? 1 : 0;
    }
    case detail::FactType::kBits: {
      IOVAMAP_ASSIGN_OR_RETURN(unsigned v, get_bits(ctx, node, key));
      return v;
    }
    case detail::FactType::kNumber:
      break;
  }
  return get_u64(ctx, node, key, fact.max);
}

// "intel-cap, intel-ecap, ...": the topology keys of `driver`'s facts.
std::string fact_keys(const detail::IommuDriverModel& driver) {
  std::string out;
  for (const detail::UnitFact& f : driver.facts())
    out += (out.empty() ? "" : ", ") + std::string(f.topology_key);
  return out.empty() ? "none" : out;
}

Result<IommuUnit> get_iommu(const Ctx& ctx, const toml::node& node) {
  const toml::table* t = node.as_table();
  if (t == nullptr) return ctx.at(node, "[[iommu]] must be a table");
  IommuUnit unit;
  // The driver first, wherever it stands in the table: it decides which keys the unit takes.
  const toml::node* driver_node = t->get("driver");
  if (driver_node == nullptr) return ctx.at(*t, "[[iommu]] needs 'driver'");
  IOVAMAP_ASSIGN_OR_RETURN(std::string driver_text, get_string(ctx, *driver_node, "driver"));
  Result<std::string> known = parse_driver_name(driver_text);
  if (!known) return ctx.at(*driver_node, known.error().message);
  unit.driver = *known;
  const detail::IommuDriverModel& driver = *detail::find_driver(unit.driver);

  std::map<std::string, Handler, std::less<>> handlers = {
      {"name",
       [&](const toml::node& n) -> Status {
         IOVAMAP_ASSIGN_OR_RETURN(std::string v, get_string(ctx, n, "name"));
         if (v.empty()) return ctx.at(n, "IOMMU name is empty");
         unit.name = v;
         return {};
       }},
      {"driver", [](const toml::node&) -> Status { return {}; }},
      {"address-bits",
       [&](const toml::node& n) -> Status {
         IOVAMAP_ASSIGN_OR_RETURN(unit.address_bits, get_bits(ctx, n, "address-bits"));
         return {};
       }},
      {"aperture",
       [&](const toml::node& n) -> Status {
         IOVAMAP_ASSIGN_OR_RETURN(unit.aperture, get_pair_range(ctx, n, "aperture"));
         return {};
       }},
      {"page-sizes", [&](const toml::node& n) -> Status {
         IOVAMAP_ASSIGN_OR_RETURN(unit.page_sizes, get_u64(ctx, n, "page-sizes"));
         return {};
       }}};
  // The driver's own keys (docs/topology.md lists every driver's).
  for (const detail::UnitFact& fact : driver.facts()) {
    handlers[std::string(fact.topology_key)] = [&ctx, &unit, &fact](const toml::node& n) -> Status {
      IOVAMAP_ASSIGN_OR_RETURN(uint64_t v, get_fact(ctx, n, fact));
      detail::fact_store(unit, fact)[std::string(fact.key)] = v;
      return {};
    };
  }
  // A key of another driver is a unit given the wrong driver, or a key given the wrong unit.
  for (auto&& [key, n] : *t) {
    if (handlers.count(key.str())) continue;
    std::string owners;
    for (const detail::IommuDriverModel* other : detail::iommu_drivers()) {
      for (const detail::UnitFact& f : other->facts()) {
        if (f.topology_key == key.str()) {
          owners += (owners.empty() ? "" : ", ") + std::string(other->name());
          break;
        }
      }
    }
    if (!owners.empty()) {
      return ctx.at(n, "'" + std::string(key.str()) + "' is a key of " + owners +
                           " units, and this unit's driver is " + unit.driver + " (" + unit.driver +
                           " keys: " + fact_keys(driver) + ")");
    }
  }
  IOVAMAP_RETURN_IF_ERROR(each_key(ctx, *t, "[[iommu]]", handlers, {"name", "driver"}));
  if (unit.address_bits && unit.aperture)
    return ctx.at(node, "give either 'address-bits' or 'aperture', not both");
  if (unit.page_sizes && *unit.page_sizes == 0)
    return ctx.at(node, "'page-sizes' must have at least one bit set");
  return unit;
}

Result<Group> get_group(const Ctx& ctx, const toml::node& node) {
  const toml::table* t = node.as_table();
  if (t == nullptr) return ctx.at(node, "[[group]] must be a table");
  Group group;
  group.type = "DMA";
  std::string iommu;
  std::optional<MsiEvidence> msi;  // applies to every device, once they are read
  // The device array needs the group's IOMMU, which may come later in the table.
  if (const toml::node* n = t->get("iommu")) {
    IOVAMAP_ASSIGN_OR_RETURN(iommu, get_string(ctx, *n, "iommu"));
  }
  Status s =
      each_key(ctx, *t, "[[group]]",
               {{"id",
                 [&](const toml::node& n) -> Status {
                   IOVAMAP_ASSIGN_OR_RETURN(uint64_t v, get_u64(ctx, n, "id", 0xffffffff));
                   group.id = static_cast<uint32_t>(v);
                   return {};
                 }},
                {"iommu", [&](const toml::node&) -> Status { return {}; }},
                {"msi-isolated",
                 [&](const toml::node& n) -> Status {
                   IOVAMAP_ASSIGN_OR_RETURN(bool v, get_bool(ctx, n, "msi-isolated"));
                   msi = MsiEvidence{v, ctx.file + ":" + std::to_string(n.source().begin.line)};
                   return {};
                 }},
                {"type",
                 [&](const toml::node& n) -> Status {
                   IOVAMAP_ASSIGN_OR_RETURN(std::string v, get_string(ctx, n, "type"));
                   static const std::set<std::string, std::less<>> kTypes = {
                       "DMA", "DMA-FQ", "identity", "blocked", "unmanaged", "auto"};
                   if (!kTypes.count(v))
                     return ctx.at(n, "unknown group type '" + v +
                                          "' (DMA, DMA-FQ, identity, blocked, unmanaged, auto)");
                   group.type = v;
                   return {};
                 }},
                {"device",
                 [&](const toml::node& n) -> Status {
                   const toml::array* a = n.as_array();
                   if (a == nullptr) return ctx.at(n, "'device' must be written [[group.device]]");
                   for (const toml::node& d : *a) {
                     IOVAMAP_ASSIGN_OR_RETURN(Device dev, get_device(ctx, d, iommu));
                     group.devices.push_back(std::move(dev));
                   }
                   return {};
                 }}},
               {"id"});
  if (!s) return s.error();
  if (msi)
    for (Device& d : group.devices) d.msi = msi;
  return group;
}

}  // namespace

Result<Host> parse_topology(std::string_view text, const std::string& file_name,
                            std::vector<TopologyTableRef>* tables) {
  // ASCII only: Debian's toml++ 3.3 reaches an unreachable branch (undefined behaviour) when it
  // meets some non-ASCII characters where whitespace may stand (found by topology_fuzz: a file
  // starting with U+FE7F). Refusing every non-ASCII byte keeps such input away from it.
  size_t line = 1, column = 1;
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80)
      return make_error(EINVAL, file_name + ":" + std::to_string(line) + ":" +
                                    std::to_string(column) +
                                    ": non-ASCII byte; topology files are ASCII");
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  toml::table root;
  try {
    root = toml::parse(text, file_name);
  } catch (const toml::parse_error& e) {
    return make_error(EINVAL, file_name + ":" + std::to_string(e.source().begin.line) + ":" +
                                  std::to_string(e.source().begin.column) + ": " +
                                  std::string(e.description()));
  }
  Ctx ctx{file_name};
  Host host;
  std::vector<uint32_t> group_lines;
  std::set<uint32_t> group_ids;
  std::unordered_map<std::string, uint32_t> device_groups;  // device name -> its group
  host.source = "topology " + file_name;
  Status s = each_key(
      ctx, root, "the topology",
      {{"kernel",
        [&](const toml::node& n) -> Status {
          IOVAMAP_ASSIGN_OR_RETURN(std::string v, get_string(ctx, n, "kernel"));
          Result<KernelVersion> k = KernelVersion::parse(v);
          if (!k) return ctx.at(n, k.error().message);
          host.kernel = *k;
          return {};
        }},
       {"ram-top",
        [&](const toml::node& n) -> Status {
          IOVAMAP_ASSIGN_OR_RETURN(host.ram_top, get_u64(ctx, n, "ram-top"));
          return {};
        }},
       {"dma-entry-limit",
        [&](const toml::node& n) -> Status {
          IOVAMAP_ASSIGN_OR_RETURN(uint64_t v, get_u64(ctx, n, "dma-entry-limit"));
          if (v > UINT32_MAX)
            return ctx.at(n,
                          "'dma-entry-limit' must fit in 32 bits (the module "
                          "parameter is an unsigned int)");
          host.dma_entry_limit = static_cast<uint32_t>(v);
          return {};
        }},
       {"allow-unsafe-interrupts",
        [&](const toml::node& n) -> Status {
          IOVAMAP_ASSIGN_OR_RETURN(bool v, get_bool(ctx, n, "allow-unsafe-interrupts"));
          host.type1_allow_unsafe_interrupts = v;
          host.iommufd_allow_unsafe_interrupts = v;
          return {};
        }},
       {"msi-isolated",
        [&](const toml::node& n) -> Status {
          IOVAMAP_ASSIGN_OR_RETURN(bool v, get_bool(ctx, n, "msi-isolated"));
          host.msi = MsiEvidence{v, file_name + ":" + std::to_string(n.source().begin.line)};
          return {};
        }},
       {"firmware",
        [&](const toml::node& n) -> Status {
          const toml::table* t = n.as_table();
          if (t == nullptr) return ctx.at(n, "'firmware' must be a table: [firmware]");
          std::vector<TopologyTableRef> refs;
          auto table_file = [&](const char* key, const char* signature) {
            return [&, key, signature](const toml::node& f) -> Status {
              IOVAMAP_ASSIGN_OR_RETURN(std::string path, get_string(ctx, f, key));
              if (path.empty()) return ctx.at(f, "'" + std::string(key) + "' is empty");
              refs.push_back(
                  {signature, path, file_name + ":" + std::to_string(f.source().begin.line)});
              return {};
            };
          };
          IOVAMAP_RETURN_IF_ERROR(each_key(
              ctx, *t, "[firmware]",
              {{"dmar", table_file("dmar", "DMAR")},
               {"ivrs", table_file("ivrs", "IVRS")},
               {"iort", table_file("iort", "IORT")},
               {"viot", table_file("viot", "VIOT")},
               {"pci-boot-config",
                [&](const toml::node& f) -> Status {
                  IOVAMAP_ASSIGN_OR_RETURN(std::string v, get_string(ctx, f, "pci-boot-config"));
                  if (v != "preserved" && v != "not-preserved")
                    return ctx.at(f,
                                  "'pci-boot-config' must be "
                                  "\"preserved\" or "
                                  "\"not-preserved\"");
                  host.firmware.pci_boot_config_preserved = v == "preserved";
                  return {};
                }}},
              {}));
          if (tables) tables->insert(tables->end(), refs.begin(), refs.end());
          return {};
        }},
       {"iommu",
        [&](const toml::node& n) -> Status {
          const toml::array* a = n.as_array();
          if (a == nullptr) return ctx.at(n, "'iommu' must be written [[iommu]]");
          for (const toml::node& u : *a) {
            IOVAMAP_ASSIGN_OR_RETURN(IommuUnit unit, get_iommu(ctx, u));
            if (host.find_iommu(unit.name))
              return ctx.at(u, "IOMMU '" + unit.name + "' defined twice");
            host.iommus.push_back(std::move(unit));
          }
          return {};
        }},
       {"group",
        [&](const toml::node& n) -> Status {
          const toml::array* a = n.as_array();
          if (a == nullptr) return ctx.at(n, "'group' must be written [[group]]");
          for (const toml::node& g : *a) {
            IOVAMAP_ASSIGN_OR_RETURN(Group group, get_group(ctx, g));
            if (!group_ids.insert(group.id).second)
              return ctx.at(g, "group " + std::to_string(group.id) + " defined twice");
            // A device belongs to one group, once: indexed, so a big file is not quadratic.
            for (const Device& d : group.devices) {
              auto [it, fresh] = device_groups.emplace(d.name, group.id);
              if (!fresh)
                return ctx.at(g, it->second == group.id
                                     ? "device " + d.name + " is listed twice in group " +
                                           std::to_string(group.id)
                                     : "device " + d.name + " is in groups " +
                                           std::to_string(it->second) + " and " +
                                           std::to_string(group.id));
            }
            group_lines.push_back(g.source().begin.line);
            host.groups.push_back(std::move(group));
          }
          return {};
        }}},
      {});
  if (!s) return s.error();
  // Tables come in key order, so units are checked once everything is read.
  for (size_t i = 0; i < host.groups.size(); ++i) {
    for (const Device& d : host.groups[i].devices) {
      if (!d.iommu.empty() && !host.find_iommu(d.iommu))
        return make_error(EINVAL, file_name + ":" + std::to_string(group_lines[i]) + ": device " +
                                      d.name + ": no [[iommu]] named '" + d.iommu + "'");
    }
  }
  std::sort(host.groups.begin(), host.groups.end(),
            [](const Group& a, const Group& b) { return a.id < b.id; });
  return host;
}

}  // namespace iovamap
