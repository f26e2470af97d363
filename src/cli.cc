#include "iovamap/cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "iovamap/container.h"
#include "iovamap/discovery.h"
#include "iovamap/dma_limit.h"
#include "iovamap/iommu_driver.h"
#include "iovamap/iommufd_ioas.h"
#include "iovamap/map_file.h"
#include "iovamap/msi.h"
#include "iovamap/policy.h"
#include "iovamap/quantity.h"
#include "iovamap/range_set.h"
#include "iovamap/snapshot.h"
#include "iovamap/sysfs_reader.h"
#include "iovamap/topology.h"
#include "iovamap/vfio_info.h"
#include "iovamap/vfio_type1.h"
#include "verify_command.h"

namespace iovamap {

namespace {

using Json = nlohmann::ordered_json;

constexpr int kExitOk = 0;
constexpr int kExitCheckFailed = 1;
constexpr int kExitUsage = 2;

struct Options {
  std::string root;
  std::string topology;
  std::string policy = "effective";
  std::vector<std::string> dma_limits;
  std::string format = "text";
  std::vector<std::string> groups;
  bool iommufd = false;
  std::string map_file;
  std::string layout;
  std::string snapshot_dir;
  bool probe = false;  // verify --probe
};

// A failure that ends the command with `status`, after printing `message` to err.
struct Failure {
  int status;
  std::string message;
};

// ---- loading the host ------------------------------------------------------------------------

struct Loaded {
  Host host;
  std::vector<std::string> notes;      // discovery warnings: shown to people
  std::vector<ObservedNote> observed;  // groups whose observed regions the model kept
  Policy policy = Policy::kEffective;
};

// What to tell people along with an answer about `groups`: discovery's warnings, and the
// observed-region notes of those groups only (all groups for `list`).
std::vector<std::string> notes_for(const Loaded& l, const std::vector<const Group*>& groups) {
  std::vector<std::string> out = l.notes;
  for (const ObservedNote& n : l.observed)
    if (std::any_of(groups.begin(), groups.end(),
                    [&](const Group* g) { return g->id == n.group_id; }))
      out.push_back(n.message);
  return out;
}

std::vector<std::string> all_notes(const Loaded& l) {
  std::vector<std::string> out = l.notes;
  for (const ObservedNote& n : l.observed) out.push_back(n.message);
  return out;
}

Result<std::string> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ENOENT, path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return make_error(EIO, path + ": read error");
  return text.str();
}

// Applies --dma-limit BDF=BITS to the devices it names.
Status apply_dma_limits(const std::vector<std::string>& limits, Host* host) {
  for (const std::string& spec : limits) {
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
          found = true;
        }
    if (!found) return make_error(ENODEV, "--dma-limit " + spec + ": no device " + bdf);
  }
  return {};
}

Result<Loaded> load(const Options& o) {
  Loaded l;
  Result<Policy> policy = parse_policy(o.policy);
  if (!policy) return policy.error();
  l.policy = *policy;
  if (!o.topology.empty()) {
    Result<std::string> text = read_whole_file(o.topology);
    if (!text) return text.error();
    Result<Host> host = parse_topology(*text, o.topology);
    if (!host) return host.error();
    l.host = std::move(*host);
  } else {
    std::string root = o.root.empty() ? "/" : o.root;
    Result<std::unique_ptr<SysfsReader>> reader = open_root_reader(root);
    if (!reader) return reader.error();
    Result<Discovery> found =
        discover(**reader, root == "/" ? std::string("live host") : "snapshot " + root);
    if (!found) return found.error();
    l.host = std::move(found->host);
    l.notes = std::move(found->warnings);
    // Regions the kernel showed that the model cannot explain are kept (as observed) so that
    // every answer includes them; say so.
    l.observed = explain_observed_regions(l.host);
  }
  if (Status s = apply_dma_limits(o.dma_limits, &l.host); !s) return s.error();
  return l;
}

// The groups named on the command line, in that order; all groups when `names` is empty and
// `all_if_empty`.
Result<std::vector<const Group*>> select_groups(const Host& host,
                                                const std::vector<std::string>& names,
                                                bool all_if_empty) {
  std::vector<const Group*> out;
  if (names.empty() && all_if_empty) {
    for (const Group& g : host.groups) out.push_back(&g);
    return out;
  }
  for (const std::string& name : names) {
    uint32_t id = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
    if (ec != std::errc() || end != name.data() + name.size())
      return make_error(EINVAL, "'" + name + "' is not a group number");
    const Group* g = host.find_group(id);
    if (g == nullptr)
      return make_error(ENOENT, "no group " + name + " in " + host.source +
                                    (host.groups.empty() ? " (it has no IOMMU groups)" : ""));
    if (std::find(out.begin(), out.end(), g) != out.end())
      return make_error(EINVAL, "group " + name + " given twice");
    out.push_back(g);
  }
  return out;
}

// ---- JSON pieces -----------------------------------------------------------------------------

Json range_json(const Range& r) {
  return Json{{"first", hex(r.first)}, {"last", hex(r.last)}};
}

Json provenance_json(const std::vector<Provenance>& p) {
  Json out = Json::array();
  for (const Provenance& x : p)
    out.push_back(Json{{"origin", origin_name(x.origin)}, {"detail", x.detail}});
  return out;
}

Json aperture_json(const std::optional<Aperture>& a) {
  if (!a) return nullptr;
  Json j = range_json(a->range);
  j["provenance"] = provenance_json({a->provenance});
  return j;
}

Json header_json(const Loaded& l) {
  return Json{{"iovamap", 1},
              {"source", l.host.source},
              {"kernel", l.host.kernel.to_string()},
              {"policy", policy_name(l.policy)}};
}

// ---- text pieces -----------------------------------------------------------------------------

// Columns padded to their widest cell.
class Table {
 public:
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void print(std::ostream& out, const std::string& indent = "  ") const {
    std::vector<size_t> width;
    for (const auto& r : rows_)
      for (size_t i = 0; i < r.size(); ++i) {
        if (width.size() <= i) width.push_back(0);
        width[i] = std::max(width[i], r[i].size());
      }
    for (const auto& r : rows_) {
      std::string line = indent;
      for (size_t i = 0; i < r.size(); ++i) {
        line += r[i];
        if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out << line << '\n';
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string provenance_text(const std::vector<Provenance>& p) {
  std::string out;
  for (const Provenance& x : p) {
    if (!out.empty()) out += "; ";
    out += std::string(origin_name(x.origin));
    if (!x.detail.empty()) out += ": " + x.detail;
  }
  return out;
}

void print_notes(const std::vector<std::string>& notes, std::ostream& out) {
  for (const std::string& n : notes) out << "note: " << n << '\n';
}

std::string hex4(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04x", v);
  return buf;
}

std::string hex6(unsigned v) {
  char buf[12];
  std::snprintf(buf, sizeof buf, "0x%06x", v);
  return buf;
}

// ---- list ------------------------------------------------------------------------------------

std::string limit_text(const DmaLimit& l) {
  std::string out = l.bits
                        ? std::to_string(*l.bits) + "-bit (" + std::string(source_name(l.source)) +
                              (l.applies_to_vfio ? "" : ", kernel DMA only") + ")"
                        : "unknown";
  if (l.stale_hint_bits)
    out += "; dma_mask_bits " + std::to_string(*l.stale_hint_bits) + " is a stale hint";
  return out;
}

// The host's MSI answer (a group without devices takes it) and each group's, for `list`.
MsiVerdict host_msi(const Host& h) {
  return group_msi_isolation(h, Group{});
}

Json msi_json(const MsiVerdict& v) {
  return Json{{"isolated", v.isolated}, {"known", v.known}, {"from", v.why}};
}

Json unsafe_json(const std::optional<bool>& v) {
  return v ? Json(*v) : Json(nullptr);
}

std::string msi_text(const MsiVerdict& v) {
  if (!v.known) return "unknown: " + v.why;
  return std::string(v.isolated ? "isolated" : "NOT isolated") + " (from " + v.why + ")";
}

std::string unsafe_text(const std::optional<bool>& v) {
  return v ? (*v ? "Y" : "N") : "N (default)";
}

int cmd_list(const Loaded& l, const std::string& format, std::ostream& out) {
  const Host& h = l.host;
  // One aperture per unit, computed once.
  std::map<std::string, std::pair<std::optional<Aperture>, std::optional<uint64_t>>> units;
  std::vector<std::string> unit_notes;
  for (const IommuUnit& u : h.iommus) {
    Result<Aperture> a = paging_aperture(u, h.kernel);
    Result<uint64_t> p = page_sizes(u, h.kernel);
    if (!a) unit_notes.push_back(u.name + ": " + a.error().message);
    units[u.name] = {a ? std::optional<Aperture>(*a) : std::nullopt,
                     p ? std::optional<uint64_t>(*p) : std::nullopt};
  }
  if (format == "json") {
    Json j = header_json(l);
    Json iommus = Json::array();
    for (const IommuUnit& u : h.iommus) {
      const auto& [a, p] = units[u.name];
      iommus.push_back(Json{{"name", u.name},
                            {"driver", driver_name(u.driver)},
                            {"aperture", aperture_json(a)},
                            {"page_sizes", p ? Json(hex(*p)) : Json(nullptr)}});
    }
    j["iommus"] = std::move(iommus);
    Json groups = Json::array();
    for (const Group& g : h.groups) {
      Json devices = Json::array();
      for (const Device& d : g.devices) {
        DmaLimit lim = dma_limit(d);
        Json dj{
            {"name", d.name},
            {"pci", d.is_pci},
            {"vendor", d.is_pci ? Json(hex(d.vendor)) : Json(nullptr)},
            {"device", d.is_pci ? Json(hex(d.device_id)) : Json(nullptr)},
            {"class", d.is_pci ? Json(hex(d.class_code)) : Json(nullptr)},
            {"driver", d.driver},
            {"iommu", d.iommu},
            {"dma_mask_bits", d.dma_mask_bits ? Json(*d.dma_mask_bits) : Json(nullptr)},
            {"dma_limit", Json{{"bits", lim.bits ? Json(*lim.bits) : Json(nullptr)},
                               {"source", source_name(lim.source)},
                               {"applies_to_vfio", lim.applies_to_vfio},
                               {"detail", lim.detail},
                               {"stale_hint_bits", lim.stale_hint_bits ? Json(*lim.stale_hint_bits)
                                                                       : Json(nullptr)}}}};
        devices.push_back(std::move(dj));
      }
      const IommuUnit* u = h.iommu_of(g);
      groups.push_back(Json{{"id", g.id},
                            {"type", g.type},
                            {"iommu", u ? Json(u->name) : Json(nullptr)},
                            {"msi", msi_json(group_msi_isolation(h, g))},
                            {"devices", std::move(devices)}});
    }
    j["groups"] = std::move(groups);
    j["interrupts"] = Json{{"msi", msi_json(host_msi(h))},
                           {"allow_unsafe_interrupts",
                            Json{{"vfio_iommu_type1", unsafe_json(h.type1_allow_unsafe_interrupts)},
                                 {"iommufd", unsafe_json(h.iommufd_allow_unsafe_interrupts)}}}};
    Json notes = Json::array();
    for (const std::string& n : all_notes(l)) notes.push_back(n);
    for (const std::string& n : unit_notes) notes.push_back(n);
    j["notes"] = std::move(notes);
    out << j.dump(2) << '\n';
    return kExitOk;
  }
  out << h.source << ", kernel " << h.kernel.to_string() << ": " << h.iommus.size()
      << " IOMMU unit(s), " << h.groups.size() << " group(s)\n";
  if (!h.iommus.empty()) {
    out << "\nIOMMU units\n";
    Table t;
    t.row({"NAME", "DRIVER", "APERTURE", "SIZE", "PAGE SIZES"});
    for (const IommuUnit& u : h.iommus) {
      const auto& [a, p] = units[u.name];
      t.row({u.name, std::string(driver_name(u.driver)), a ? to_string(a->range) : "unknown",
             a ? human_size(a->range.size()) : "", p ? hex(*p) : "unknown"});
    }
    t.print(out);
  }
  {
    out << "\nGroups\n";
    Table t;
    t.row({"GROUP", "TYPE", "DEVICE", "ID", "CLASS", "DRIVER", "DMA LIMIT"});
    for (const Group& g : h.groups) {
      bool first = true;
      for (const Device& d : g.devices) {
        t.row({first ? std::to_string(g.id) : "", first ? g.type : "", d.name,
               d.is_pci ? hex4(d.vendor) + ":" + hex4(d.device_id) : "-",
               d.is_pci ? hex6(d.class_code) : "-", d.driver.empty() ? "(none)" : d.driver,
               limit_text(dma_limit(d))});
        first = false;
      }
      if (g.devices.empty()) t.row({std::to_string(g.id), g.type, "(no devices)"});
    }
    t.print(out);
  }
  // MSI isolation decides whether VFIO and iommufd take a group at all (msi.h).
  out << "\nInterrupts\n  MSIs: " << msi_text(host_msi(h)) << '\n';
  for (const Group& g : h.groups) {
    MsiVerdict v = group_msi_isolation(h, g);
    if (v.known && v.why != host_msi(h).why)
      out << "  group " << g.id << ": MSIs " << msi_text(v) << '\n';
  }
  out << "  allow_unsafe_interrupts: vfio_iommu_type1 "
      << unsafe_text(h.type1_allow_unsafe_interrupts) << ", iommufd "
      << unsafe_text(h.iommufd_allow_unsafe_interrupts) << '\n';
  std::vector<std::string> notes = all_notes(l);
  notes.insert(notes.end(), unit_notes.begin(), unit_notes.end());
  if (!notes.empty()) out << '\n';
  print_notes(notes, out);
  return kExitOk;
}

// ---- regions ---------------------------------------------------------------------------------

int cmd_regions(const Loaded& l, const std::vector<const Group*>& groups, const std::string& format,
                std::ostream& out) {
  std::vector<GroupModel> models;
  for (const Group* g : groups) {
    Result<GroupModel> m = model_group(l.host, *g, l.policy);
    if (!m) throw Failure{kExitUsage, m.error().message};
    models.push_back(std::move(*m));
  }
  if (format == "sysfs") {
    for (const GroupModel& m : models) {
      if (models.size() > 1) out << "# group " << m.group_id << '\n';
      out << m.regions.to_sysfs();
    }
    return kExitOk;
  }
  if (format == "json") {
    Json j = header_json(l);
    Json gs = Json::array();
    for (const GroupModel& m : models) {
      Json regions = Json::array();
      for (const ReservedRegion& r : m.regions.regions()) {
        Json rj = range_json(r.range());
        rj["type"] = type_name(r.type);
        rj["provenance"] = provenance_json(r.provenance);
        regions.push_back(std::move(rj));
      }
      gs.push_back(Json{{"id", m.group_id},
                        {"aperture", aperture_json(m.aperture)},
                        {"page_sizes", m.page_sizes ? Json(hex(*m.page_sizes)) : Json(nullptr)},
                        {"regions", std::move(regions)},
                        {"warnings", m.warnings}});
    }
    j["groups"] = std::move(gs);
    out << j.dump(2) << '\n';
    return kExitOk;
  }
  out << l.host.source << ", kernel " << l.host.kernel.to_string() << ", policy "
      << policy_name(l.policy) << '\n';
  for (const GroupModel& m : models) {
    out << "\ngroup " << m.group_id;
    if (m.aperture) out << ", aperture " << to_string(m.aperture->range);
    out << '\n';
    Table t;
    t.row({"FIRST", "LAST", "SIZE", "TYPE", "WHY"});
    for (const ReservedRegion& r : m.regions.regions())
      t.row({hex(r.start), hex(r.last()), human_size(r.length == 0 ? u128{1} << 64 : r.length),
             std::string(type_name(r.type)), provenance_text(r.provenance)});
    if (m.regions.empty()) {
      out << "  (no reserved regions)\n";
    } else {
      t.print(out);
    }
    for (const std::string& w : m.warnings) out << "  warning: " << w << '\n';
  }
  std::vector<std::string> notes = notes_for(l, groups);
  if (!notes.empty()) out << '\n';
  print_notes(notes, out);
  return kExitOk;
}

// ---- containers ------------------------------------------------------------------------------

struct Container {
  std::vector<GroupModel> models;
  Type1Container type1;
  IoasModel ioas;
  std::vector<Range> usable;  // the container's list (type1) or the IOAS holes (iommufd)
  uint64_t alignment = 4096;  // the smallest page size
  std::vector<std::string> warnings;
};

// Builds one container holding `groups` under the policy; Failure(1) when an attach fails.
Container build_container(const Loaded& l, const std::vector<const Group*>& groups, bool iommufd) {
  Container c{{},
              Type1Container(l.host.kernel, l.host.dma_entry_limit.value_or(65535),
                             l.host.type1_allow_unsafe_interrupts.value_or(false)),
              IoasModel(l.host.kernel, l.host.iommufd_allow_unsafe_interrupts.value_or(false)),
              {},
              4096,
              {}};
  for (const Group* g : groups) {
    Result<GroupModel> m = model_group(l.host, *g, l.policy);
    if (!m) throw Failure{kExitUsage, m.error().message};
    for (const std::string& w : m->warnings) c.warnings.push_back(w);
    if (!m->page_sizes)
      c.warnings.push_back("group " + std::to_string(g->id) +
                           ": page sizes unknown, 4 KiB assumed");
    // The same group and domain models as model_type1 / model_iommufd (container.h); the
    // attaches are replayed here so that a refusal is told apart from bad input.
    MsiVerdict msi = group_msi_isolation(l.host, *g);
    if (iommufd) {
      IoasDomain domain = ioas_domain(l.host, *g, *m);
      for (const Device& d : g->devices) {
        Result<std::vector<ReservedRegion>> regions = device_regions_for(l.host, *g, d, l.policy);
        if (!regions) throw Failure{kExitUsage, regions.error().message};
        Status s = c.ioas.attach(IoasDevice{d.name, *regions, msi.isolated}, domain);
        if (!s)
          throw Failure{kExitCheckFailed,
                        "attach: " + msi_explained(s.error(), msi, "iommufd").message};
      }
    } else {
      Status s = c.type1.attach(type1_group(l.host, *g, *m));
      if (!s)
        throw Failure{kExitCheckFailed,
                      "attach: " + msi_explained(s.error(), msi, "vfio_iommu_type1").message};
    }
    c.models.push_back(std::move(*m));
  }
  if (iommufd) {
    c.usable = c.ioas.usable();
    c.alignment = std::max<uint64_t>(c.ioas.iova_alignment(), 1);
  } else {
    c.usable = c.type1.iova_list();
    uint64_t bitmap = c.type1.pgsize_bitmap();
    c.alignment = bitmap ? bitmap & (~bitmap + 1) : 4096;
  }
  return c;
}

// A container whose usable space ends below the host's RAM top cannot map all of RAM at its
// physical addresses (what a VMM does for guest RAM backed 1:1); nullopt when it can or when
// the RAM top is unknown.
std::optional<std::string> ram_warning(const Host& host, const std::vector<Range>& usable) {
  if (!host.ram_top) return std::nullopt;
  if (!usable.empty() && usable.back().last >= *host.ram_top) return std::nullopt;
  std::string end = usable.empty() ? "nothing" : "ends at " + hex(usable.back().last);
  return "the usable space " + end + ", below the host's RAM top " + hex(*host.ram_top) +
         ": RAM above it cannot be DMA-mapped at the same address";
}

int cmd_ranges(const Loaded& l, const std::vector<const Group*>& groups, bool iommufd,
               const std::string& format, std::ostream& out) {
  Container c = build_container(l, groups, iommufd);
  if (format == "sysfs") {
    out << to_sysfs_lines(c.usable);
    return kExitOk;
  }
  if (format == "json") {
    Json j = header_json(l);
    j["rules"] = iommufd ? "iommufd" : "vfio-type1";
    Json ids = Json::array();
    for (const Group* g : groups) ids.push_back(g->id);
    j["groups"] = std::move(ids);
    Json ranges = Json::array();
    for (const Range& r : c.usable) ranges.push_back(range_json(r));
    j["ranges"] = std::move(ranges);
    j["alignment"] = hex(c.alignment);
    if (std::optional<std::string> w = ram_warning(l.host, c.usable)) c.warnings.push_back(*w);
    j["warnings"] = c.warnings;
    out << j.dump(2) << '\n';
    return kExitOk;
  }
  out << "usable IOVA ranges (" << (iommufd ? "iommufd IOAS" : "VFIO type1") << " rules, policy "
      << policy_name(l.policy) << "):\n";
  Table t;
  u128 total = 0;
  for (const Range& r : c.usable) {
    t.row({hex(r.first), hex(r.last), human_size(r.size())});
    total += r.size();
  }
  t.print(out);
  out << "total " << human_size(total) << ", alignment " << human_size(c.alignment) << '\n';
  if (std::optional<std::string> w = ram_warning(l.host, c.usable)) c.warnings.push_back(*w);
  for (const std::string& w : c.warnings) out << "warning: " << w << '\n';
  print_notes(notes_for(l, groups), out);
  return kExitOk;
}

// ---- check -----------------------------------------------------------------------------------

// The aligned start closest to `iova` at which `size` bytes fit inside one of `usable`, or
// nullopt when no range holds them.
std::optional<uint64_t> nearest_placement(const std::vector<Range>& usable, uint64_t iova,
                                          u128 size, uint64_t align) {
  std::optional<uint64_t> best;
  u128 best_distance = 0;
  for (const Range& r : usable) {
    if (r.size() < size) continue;
    u128 first = (u128{r.first} + align - 1) / align * align;
    u128 last_start = (u128{r.last} + 1 - size) / align * align;
    if (first > last_start) continue;
    u128 want = iova;
    u128 down = want / align * align;
    for (u128 candidate : {down, down + align}) {
      u128 place = std::clamp(candidate, first, last_start);
      u128 distance = place > want ? place - want : want - place;
      if (!best || distance < best_distance) {
        best = static_cast<uint64_t>(place);
        best_distance = distance;
      }
    }
  }
  return best;
}

// Why a mapping that type1 refused as "not inside one usable range" is refused: every reserved
// region (with its provenance) it touches, and the usable ranges it crosses.
std::string explain_miss(const Container& c, const Range& m) {
  std::string why;
  for (const GroupModel& gm : c.models)
    for (const ReservedRegion& r : gm.regions.regions())
      if (r.range().overlaps(m) && r.type != RegionType::kDirectRelaxable) {
        why += "; overlaps " + std::string(type_name(r.type)) + " region " + to_string(r.range()) +
               " of group " + std::to_string(gm.group_id);
        if (!r.provenance.empty()) why += " (" + provenance_text(r.provenance) + ")";
      }
  int touched = 0;
  for (const Range& u : c.usable)
    if (u.overlaps(m)) ++touched;
  if (touched > 1) why += "; crosses " + std::to_string(touched) + " usable ranges";
  return why;
}

int cmd_check(const Loaded& l, const std::vector<const Group*>& groups, const std::string& map,
              std::istream& in, const std::string& format, std::ostream& out) {
  std::string text, name = map;
  if (map == "-") {
    std::ostringstream s;
    s << in.rdbuf();
    text = s.str();
    name = "<stdin>";
  } else {
    Result<std::string> t = read_whole_file(map);
    if (!t) throw Failure{kExitUsage, t.error().message};
    text = std::move(*t);
  }
  Result<std::vector<PlannedMapping>> mappings = parse_map_file(text, name);
  if (!mappings) throw Failure{kExitUsage, mappings.error().message};
  Container c = build_container(l, groups, /*iommufd=*/false);
  bool all_ok = true;
  Json results = Json::array();
  Table t;
  for (const PlannedMapping& p : *mappings) {
    std::string verdict = "ok", reason;
    std::optional<uint64_t> nearest;
    bool budget_spent = false;  // ENOSPC: no placement can work
    if (p.size == 0 || p.size > (u128{1} << 64) - p.iova || p.size > kMaxAddress) {
      verdict = "fail";
      reason = p.size == 0 ? "size is 0" : "the range passes 2^64-1";
    } else {
      Status s = c.type1.map_dma(p.iova, static_cast<uint64_t>(p.size));
      if (!s) {
        verdict = "fail";
        reason = s.error().message;
        Range m{p.iova, static_cast<uint64_t>(p.iova + (p.size - 1))};
        if (s.error().code == EINVAL) reason += explain_miss(c, m);
        budget_spent = s.error().code == ENOSPC;
      }
    }
    if (verdict != "ok") all_ok = false;
    if (verdict != "ok" && !budget_spent) {
      // Where it could go instead: usable, aligned, and clear of the mappings made so far.
      RangeSet free = RangeSet::from_ranges(c.usable);
      for (const Type1Mapping& done : c.type1.mappings()) free.remove(done.range());
      nearest = nearest_placement(free.ranges(), p.iova, p.size, c.alignment);
    }
    std::string where = name + ":" + std::to_string(p.line);
    if (format == "json") {
      results.push_back(
          Json{{"line", p.line},
               {"iova", hex(p.iova)},
               {"size", p.size > kMaxAddress ? Json("0x10000000000000000")
                                             : Json(hex(static_cast<uint64_t>(p.size)))},
               {"ok", verdict == "ok"},
               {"reason", reason},
               {"nearest", nearest ? Json(hex(*nearest)) : Json(nullptr)}});
    } else {
      std::string size_text = human_size(p.size);
      std::string line = verdict == "ok" ? "ok" : "FAIL: " + reason;
      if (budget_spent)
        line += "; no placement works while the earlier mappings stay";
      else if (verdict != "ok")
        line += nearest ? "; nearest placement that works: " + hex(*nearest)
                        : "; no usable range holds this size";
      t.row({where, hex(p.iova), size_text, line});
    }
  }
  if (format == "json") {
    Json j = header_json(l);
    Json ids = Json::array();
    for (const Group* g : groups) ids.push_back(g->id);
    j["groups"] = std::move(ids);
    j["ok"] = all_ok;
    j["mappings"] = std::move(results);
    out << j.dump(2) << '\n';
  } else {
    t.print(out, "");
    for (const std::string& w : c.warnings) out << "warning: " << w << '\n';
  }
  return all_ok ? kExitOk : kExitCheckFailed;
}

// ---- info-cap --------------------------------------------------------------------------------

int cmd_info_cap(const Loaded& l, const std::vector<const Group*>& groups,
                 const std::string& layout, const std::string& format, std::ostream& out) {
  Container c = build_container(l, groups, /*iommufd=*/false);
  GetInfoOptions options = GetInfoOptions::for_kernel(l.host.kernel);
  if (layout == "packed") options.layout = CapLayout::kPacked;
  if (layout == "aligned") options.layout = CapLayout::kAligned;
  // As a VFIO user does: ask with the bare struct to learn argsz, then with that size.
  Result<GetInfoReply> probe = type1_get_info(c.type1.info_state(), 16, options);
  if (!probe) throw Failure{kExitUsage, probe.error().message};
  Result<GetInfoReply> reply = type1_get_info(c.type1.info_state(), probe->argsz, options);
  if (!reply) throw Failure{kExitUsage, reply.error().message};
  if (format == "json") {
    Json j = header_json(l);
    j["layout"] = options.layout == CapLayout::kPacked ? "packed" : "aligned";
    j["argsz"] = reply->argsz;
    j["flags"] = hex(reply->flags);
    j["cap_offset"] = reply->cap_offset;
    std::string bytes;
    for (uint8_t b : reply->bytes) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%02x", b);
      bytes += buf;
    }
    j["bytes"] = bytes;
    Json undefined = Json::array();
    for (const Range& r : reply->undefined)
      undefined.push_back(Json{{"first", r.first}, {"last", r.last}});
    j["undefined"] = std::move(undefined);
    out << j.dump(2) << '\n';
    return kExitOk;
  }
  out << "VFIO_IOMMU_GET_INFO: argsz " << reply->argsz << ", flags " << hex(reply->flags)
      << ", cap_offset " << reply->cap_offset << " ("
      << (options.layout == CapLayout::kPacked ? "packed" : "aligned") << " capabilities)\n";
  for (size_t i = 0; i < reply->bytes.size(); i += 16) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04zx:", i);
    out << buf;
    for (size_t k = i; k < std::min(i + 16, reply->bytes.size()); ++k) {
      bool undefined = false;
      for (const Range& r : reply->undefined) undefined = undefined || r.contains(k);
      std::snprintf(buf, sizeof buf, undefined ? " ??" : " %02x", reply->bytes[k]);
      out << buf;
    }
    out << '\n';
  }
  return kExitOk;
}

// ---- snapshot --------------------------------------------------------------------------------

int cmd_snapshot(const Options& o, std::ostream& out) {
  if (!o.topology.empty()) throw Failure{kExitUsage, "snapshot captures a host, not a topology"};
  std::string root = o.root.empty() ? "/" : o.root;
  Result<std::unique_ptr<SysfsReader>> reader = open_root_reader(root);
  if (!reader) throw Failure{kExitUsage, reader.error().message};
  Result<SnapshotReport> r = capture_snapshot(**reader, o.snapshot_dir);
  if (!r) throw Failure{kExitUsage, r.error().message};
  out << "captured " << r->files << " files, " << r->links << " links, " << r->dirs
      << " directories into " << r->dir << '\n';
  print_notes(r->warnings, out);
  return kExitOk;
}

}  // namespace

int run_cli(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
            std::ostream& err) {
  Options o;
  CLI::App app{"iovamap: which I/O virtual addresses a Linux device can really use"};
  app.name(args.empty() ? "iovamap" : args[0]);
  app.require_subcommand(1);
  auto* root = app.add_option("--root", o.root, "read a snapshot directory instead of /");
  auto* topo = app.add_option("--topology", o.topology, "read a what-if host (TOML)");
  root->excludes(topo);
  app.add_option("--policy", o.policy, "kernel | rfc | rfc-fixed | effective (default)")
      ->check(CLI::IsMember({"kernel", "rfc", "rfc-fixed", "effective"}));
  app.add_option("--dma-limit", o.dma_limits, "declare a device's DMA limit: BDF=BITS")
      ->allow_extra_args(false);
  app.add_option("--format", o.format, "text (default) | json | sysfs")
      ->check(CLI::IsMember({"text", "json", "sysfs"}));

  CLI::App* list =
      app.add_subcommand("list", "groups, devices, drivers, IOMMUs, DMA limits and their sources");
  CLI::App* regions = app.add_subcommand(
      "regions", "reserved regions per group; --format sysfs prints the kernel's file");
  regions->add_option("GROUP", o.groups, "group numbers (default: all)");
  CLI::App* ranges =
      app.add_subcommand("ranges", "usable IOVA ranges of one container holding these groups");
  ranges->add_option("GROUP", o.groups, "group numbers")->required();
  ranges->add_flag("--iommufd", o.iommufd, "iommufd IOAS rules instead of VFIO type1");
  CLI::App* check = app.add_subcommand(
      "check", "check planned DMA mappings ('IOVA SIZE' per line); exit 1 if any fails");
  check->add_option("GROUP", o.groups, "group numbers")->required();
  check->add_option("--map", o.map_file, "the map file, or - for stdin")->required();
  CLI::App* info = app.add_subcommand("info-cap", "the VFIO_IOMMU_GET_INFO reply bytes");
  info->add_option("GROUP", o.groups, "group numbers")->required();
  info->add_option("--layout", o.layout, "packed (before 6.6) | aligned (default: the kernel's)")
      ->check(CLI::IsMember({"packed", "aligned"}));
  CLI::App* snap = app.add_subcommand("snapshot", "capture this host (or --root) into DIR");
  snap->add_option("DIR", o.snapshot_dir, "a new directory")->required();
  CLI::App* verify = app.add_subcommand(
      "verify",
      "ask the running kernel (VFIO, iommufd) and compare with the model; exit 1 on a "
      "mismatch, 2 when it cannot ask");
  verify->add_option("GROUP", o.groups, "group numbers")->required();
  verify->add_flag("--probe", o.probe,
                   "also MAP_DMA one page at every boundary (unmapped at once)");
  for (CLI::App* sub : {list, regions, ranges, check, info, snap, verify}) sub->fallthrough();

  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  if (argv.empty()) argv.push_back("iovamap");
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e, out, err);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (o.format == "sysfs" && !regions->parsed() && !ranges->parsed()) {
    err << "iovamap: --format sysfs is for regions and ranges\n";
    return kExitUsage;
  }
  try {
    if (snap->parsed()) return cmd_snapshot(o, out);
    if (verify->parsed()) {  // the running kernel against the kernel policy (verify_command.h)
      if (!o.topology.empty())
        throw Failure{kExitUsage, "verify asks a running kernel, not a topology"};
      return run_verify(
          {.groups = o.groups, .probe = o.probe, .root = o.root.empty() ? "/" : o.root}, out, err);
    }
    Result<Loaded> l = load(o);
    if (!l) {
      err << "iovamap: " << l.error().message << '\n';
      return kExitUsage;
    }
    // Without IOMMU groups there is nothing to list or model: say so and fail, whatever the
    // command (the others fail below, naming the group they asked for).
    if (l->host.groups.empty() && (list->parsed() || regions->parsed())) {
      err << "iovamap: no IOMMU groups in " << l->host.source
          << ": no IOMMU, or it is off (intel_iommu=on / amd_iommu=on?)\n";
      return kExitUsage;
    }
    if (list->parsed()) return cmd_list(*l, o.format, out);
    Result<std::vector<const Group*>> groups = select_groups(l->host, o.groups, regions->parsed());
    if (!groups) {
      err << "iovamap: " << groups.error().message << '\n';
      return kExitUsage;
    }
    if (regions->parsed()) return cmd_regions(*l, *groups, o.format, out);
    if (ranges->parsed()) return cmd_ranges(*l, *groups, o.iommufd, o.format, out);
    if (check->parsed()) return cmd_check(*l, *groups, o.map_file, in, o.format, out);
    if (info->parsed()) return cmd_info_cap(*l, *groups, o.layout, o.format, out);
  } catch (const Failure& f) {
    err << "iovamap: " << f.message << '\n';
    return f.status;
  }
  return kExitUsage;
}

}  // namespace iovamap
