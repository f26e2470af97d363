// The JSON back-end: one object per command, compact on one line, indented with --pretty
// (docs/json.md; the schema is docs/iovamap.schema.json).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "iovamap/dma_limit.h"
#include "output.h"

namespace iovamap::tool {
namespace {

using Json = nlohmann::ordered_json;

// The format version: bumped when a field is removed or changes type (docs/json.md).
constexpr int kJsonVersion = 2;

std::string hex_width(uint64_t v, int digits) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%0*llx", digits, static_cast<unsigned long long>(v));
  return buf;
}

// A size of 1 to 2^64 bytes.
std::string size_hex(u128 size) {
  return size > kMaxAddress ? "0x10000000000000000" : hex(static_cast<uint64_t>(size));
}

Json range_json(const Range& r) {
  return Json{{"first", hex(r.first)}, {"last", hex(r.last)}};
}

Json provenance_json(const std::vector<Provenance>& p) {
  Json out = Json::array();
  for (const Provenance& x : p)
    out.push_back(Json{{"origin", origin_name(x.origin)},
                       {"detail", x.detail},
                       {"device", x.device.empty() ? Json(nullptr) : Json(x.device)}});
  return out;
}

Json aperture_json(const std::optional<Aperture>& a) {
  if (!a) return nullptr;
  Json j = range_json(a->range);
  j["provenance"] = provenance_json({a->provenance});
  return j;
}

// Every error and refusal: errno by name and number, its kind, the message.
Json error_json(const Error& e) {
  return Json{{"errno", errno_name(e.code)},
              {"code", e.code},
              {"kind", error_kind_name(e.kind)},
              {"message", e.message}};
}

Json optional_error_json(const std::optional<Error>& e) {
  return e ? error_json(*e) : Json(nullptr);
}

// A verdict's errno: {"errno": "EINVAL", "code": 22}; 0 (accepted) and none are null.
Json verdict_json(const std::optional<int>& code) {
  if (!code || *code == 0) return nullptr;
  return Json{{"errno", errno_name(*code)}, {"code", *code}};
}

Json string_or_null(const std::string& s) {
  return s.empty() ? Json(nullptr) : Json(s);
}

Json msi_json(const MsiVerdict& v) {
  return Json{{"isolated", v.isolated}, {"known", v.known}, {"from", v.why}};
}

Json unsafe_json(const std::optional<bool>& v) {
  return v ? Json(*v) : Json(nullptr);
}

Json ids_json(const std::vector<uint32_t>& ids) {
  Json out = Json::array();
  for (uint32_t id : ids) out.push_back(id);
  return out;
}

Json stops_json(const std::vector<RangeStop>& stops) {
  Json out = Json::array();
  for (const RangeStop& s : stops) {
    const char* kind = s.kind == RangeStop::Kind::kAperture ? "aperture"
                       : s.kind == RangeStop::Kind::kRegion ? "region"
                                                            : "list-quirk";
    Json j{{"kind", kind},
           {"group", s.kind == RangeStop::Kind::kListQuirk ? Json(nullptr) : Json(s.group_id)}};
    j["device"] = s.device.empty() ? Json(nullptr) : Json(s.device);
    j["first"] = hex(s.range.first);
    j["last"] = hex(s.range.last);
    j["type"] = s.type ? Json(type_name(*s.type)) : Json(nullptr);
    j["provenance"] = provenance_json(s.provenance);
    out.push_back(std::move(j));
  }
  return out;
}

class JsonOutput : public Output {
 public:
  JsonOutput(std::ostream& out, const OutputOptions& options) : out_(out), options_(options) {}

  Status list(const LoadedHost& loaded, const HostSummary& s) override {
    const Host& h = loaded.host;
    Json j = header(loaded, "list");
    Json iommus = Json::array();
    for (const UnitSummary& u : s.units)
      iommus.push_back(
          Json{{"name", u.unit->name},
               {"driver", driver_name(u.unit->driver)},
               {"aperture", aperture_json(u.aperture)},
               {"page_sizes", u.page_sizes ? Json(hex(*u.page_sizes)) : Json(nullptr)}});
    j["iommus"] = std::move(iommus);
    Json groups = Json::array();
    for (const GroupSummary& g : s.groups) {
      Json devices = Json::array();
      for (const DeviceSummary& ds : g.devices)
        devices.push_back(device_json(*ds.device, ds.limit));
      groups.push_back(Json{{"id", g.group->id},
                            {"type", string_or_null(g.group->type)},
                            {"iommu", g.iommu ? Json(g.iommu->name) : Json(nullptr)},
                            {"msi", msi_json(g.msi)},
                            {"devices", std::move(devices)}});
    }
    j["groups"] = std::move(groups);
    j["interrupts"] = Json{{"msi", msi_json(s.msi)},
                           {"allow_unsafe_interrupts",
                            Json{{"vfio_iommu_type1", unsafe_json(h.type1_allow_unsafe_interrupts)},
                                 {"iommufd", unsafe_json(h.iommufd_allow_unsafe_interrupts)}}}};
    j["notes"] = s.notes;
    return emit(std::move(j));
  }

  Status regions(const LoadedHost& loaded, const std::vector<GroupModel>& models,
                 const std::vector<std::string>& notes) override {
    Json j = header(loaded, "regions");
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
    j["notes"] = notes;
    return emit(std::move(j));
  }

  Status ranges(const LoadedHost& loaded, const ContainerReport& r,
                const std::vector<std::string>& notes) override {
    Json j = header(loaded, "ranges");
    j["rules"] = rules_name(r.rules);
    j["groups"] = ids_json(r.group_ids);
    j["refused"] = optional_error_json(r.refusal);
    Json ranges = Json::array();
    for (const UsableRange& u : r.usable) {
      Json rj = range_json(u.range);
      rj["size"] = size_hex(u.range.size());
      rj["below"] = stops_json(u.below);
      rj["above"] = stops_json(u.above);
      ranges.push_back(std::move(rj));
    }
    j["ranges"] = std::move(ranges);
    j["alignment"] = r.refusal ? Json(nullptr) : Json(hex(r.alignment));
    j["warnings"] = r.warnings;
    j["notes"] = notes;
    return emit(std::move(j));
  }

  // check streams: the document up to "mappings": [, each mapping as it is answered, then the
  // rest. The text is what dump() would write for the whole document, compact or indented.
  Status check_begin(const LoadedHost& loaded, const std::vector<uint32_t>& ids) override {
    Json j = header(loaded, "check");
    j["groups"] = ids_json(ids);
    j["refused"] = nullptr;
    std::string head = dump(j);  // ends with "}" (compact) or "\n}" (indented)
    head.erase(head.rfind('}'));
    while (!head.empty() && (head.back() == '\n' || head.back() == ' ')) head.pop_back();
    out_ << head << (options_.pretty ? ",\n  \"mappings\": [" : ",\"mappings\":[");
    mappings_ = 0;
    return {};
  }

  Status check_verdict(const MappingVerdict& v, const std::string&) override {
    Json m{{"line", v.mapping.line},
           {"iova", hex(v.mapping.iova)},
           {"size", size_hex(v.mapping.size)},
           {"ok", v.ok()},
           {"refused", optional_error_json(v.refusal)},
           {"nearest", v.nearest ? Json(hex(*v.nearest)) : Json(nullptr)}};
    std::string text = dump(m);
    if (options_.pretty) {
      // Indented as the third level of the document.
      std::string indented = "\n    ";
      for (char ch : text) indented += ch == '\n' ? std::string("\n    ") : std::string(1, ch);
      text = std::move(indented);
    }
    out_ << (mappings_++ ? "," : "") << text;
    return {};
  }

  Status check_end(bool ok, const std::vector<std::string>& warnings,
                   const std::vector<std::string>& notes) override {
    Json tail{{"ok", ok}, {"warnings", warnings}, {"notes", notes}};
    if (replaced_)
      tail["notes"].push_back(
          "some strings from the host were not UTF-8; each bad byte is shown as U+FFFD");
    std::string rest = dump(tail);  // starts with "{" (compact) or "{\n" (indented)
    rest.erase(0, rest.find('"'));
    if (options_.pretty)
      out_ << (mappings_ ? "\n  ]," : "],") << "\n  " << rest << '\n';
    else
      out_ << "]," << rest << '\n';
    return {};
  }

  // A container the kernel would refuse: the command's own document, with its answers empty.
  Status refused(const LoadedHost& loaded, std::string_view command,
                 const std::vector<uint32_t>& ids, const Error& refusal,
                 const std::vector<std::string>& notes) override {
    Json j = header(loaded, command);
    j["groups"] = ids_json(ids);
    j["refused"] = error_json(refusal);
    if (command == "check" || command == "vm-check") {
      j["mappings"] = Json::array();
      j["ok"] = false;
      j["warnings"] = Json::array();
    } else {  // info-cap
      for (const char* key : {"layout", "argsz", "flags", "cap_offset", "bytes"}) j[key] = nullptr;
      j["undefined"] = Json::array();
    }
    j["notes"] = notes;
    return emit(std::move(j));
  }

  Status assignable(const LoadedHost& loaded, const std::vector<AssignReport>& reports,
                    const std::vector<std::string>& notes) override {
    Json j = header(loaded, "assignable");
    j["groups"] = reports.empty() ? Json::array() : ids_json(reports.front().group_ids);
    Json verdicts = Json::array();
    for (const AssignReport& r : reports) {
      Json findings = Json::array();
      for (const AssignFinding& f : r.findings) {
        findings.push_back(Json{{"rule", assign_rule_name(f.rule)},
                                {"blocks", f.blocks},
                                {"errno", verdict_json(f.error_number)},
                                {"group", f.group_id ? Json(*f.group_id) : Json(nullptr)},
                                {"device", string_or_null(f.device)},
                                {"evidence", f.evidence},
                                {"kernel_says", f.kernel_says},
                                {"rule_source", f.rule_source},
                                {"fix", f.fix}});
      }
      verdicts.push_back(Json{{"rules", rules_name(r.rules)},
                              {"accepted", r.accepted()},
                              {"findings", std::move(findings)}});
    }
    j["verdicts"] = std::move(verdicts);
    j["notes"] = notes;
    return emit(std::move(j));
  }

  Status info_cap(const LoadedHost& loaded, const InfoCapReport& r) override {
    Json j = header(loaded, "info-cap");
    j["groups"] = ids_json(r.group_ids);
    j["refused"] = nullptr;
    j["layout"] = r.layout == CapLayout::kPacked ? "packed" : "aligned";
    j["argsz"] = r.reply.argsz;
    j["flags"] = hex(r.reply.flags);
    j["cap_offset"] = r.reply.cap_offset;
    std::string bytes;
    for (uint8_t b : r.reply.bytes) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%02x", b);
      bytes += buf;
    }
    j["bytes"] = bytes;
    Json undefined = Json::array();
    for (const Range& u : r.reply.undefined)
      undefined.push_back(Json{{"first", u.first}, {"last", u.last}});
    j["undefined"] = std::move(undefined);
    j["notes"] = r.notes;
    return emit(std::move(j));
  }

  Status snapshot(const SnapshotReport& r) override {
    Json j{{"iovamap", kJsonVersion}, {"command", "snapshot"}};
    j["dir"] = r.dir;
    j["files"] = r.files;
    j["links"] = r.links;
    j["dirs"] = r.dirs;
    j["notes"] = r.warnings;
    return emit(std::move(j));
  }

  Status vm_check(const LoadedHost& loaded, const VmCheckReport& r,
                  const std::vector<std::string>& notes) override {
    const VmLayout& l = r.layout;
    Json j = header(loaded, "vm-check");
    j["groups"] = ids_json(r.container.group_ids);
    j["refused"] = nullptr;
    j["vm"] = Json{{"file", r.vm.file},
                   {"format", vm_format_name(r.vm.format)},
                   {"machine", r.vm.machine.name},
                   {"ram", size_hex(r.vm.ram_size)},
                   {"cpu", r.vm.cpu.model},
                   {"firmware", firmware_name(r.vm.firmware)}};
    j["phys_bits"] = Json{{"bits", l.phys_bits}, {"rule", l.phys_bits_rule}};
    j["layout"] = Json{{"below_4g", size_hex(l.below_4g)},
                       {"above_4g", size_hex(l.above_4g)},
                       {"above_4g_start", hex(l.above_4g_start)},
                       {"amd_relocated", l.amd_relocated},
                       {"hotplug", l.device_memory ? range_json(*l.device_memory) : Json(nullptr)},
                       {"pci_window", l.pci64_window ? range_json(*l.pci64_window) : Json(nullptr)},
                       {"pci_window_rule", l.pci64_rule},
                       {"qemu_refusal", l.qemu_refusal ? Json(*l.qemu_refusal) : Json(nullptr)}};
    Json maps = Json::array();
    for (const VmMappingVerdict& v : r.verdicts) {
      Json m = range_json(v.mapping.range);
      m["name"] = v.mapping.name;
      m["kind"] = vm_mapping_kind_name(v.mapping.kind);
      m["size"] = size_hex(v.mapping.range.size());
      m["fatal"] = v.mapping.fatal;
      m["at_start"] = v.mapping.at_start;
      m["firmware_placed"] = v.mapping.firmware_placed;
      m["rule"] = v.mapping.rule;
      m["line"] = v.mapping.line ? Json(v.mapping.line) : Json(nullptr);
      m["ok"] = v.verdict.ok();
      m["refused"] = optional_error_json(v.verdict.refusal);
      m["qemu_message"] = string_or_null(v.qemu_message);
      maps.push_back(std::move(m));
    }
    j["mappings"] = std::move(maps);
    j["viommu"] = r.viommu_problem ? Json{{"problem", *r.viommu_problem}, {"fatal", r.viommu_fatal}}
                                   : Json(nullptr);
    j["starts"] = r.starts();
    j["ok"] = r.clean();
    if (r.fix) {
      Json changes = Json::array();
      for (const VmChange& c : r.fix->changes)
        changes.push_back(Json{{"text", c.text}, {"why", c.why}});
      j["fix"] = Json{{"verified", r.fix->verified},
                      {"changes", std::move(changes)},
                      {"caveats", r.fix->caveats}};
    } else {
      j["fix"] = nullptr;
    }
    j["assumptions"] = l.assumptions;
    j["notes"] = notes;
    return emit(std::move(j));
  }

  Status verify(const LoadedHost& loaded, const VerifyReport& r) override {
    Json j = header(loaded, "verify");
    j["groups"] = ids_json(r.group_ids);
    j["ok"] = r.ok();
    Json sections = Json::array();
    for (const VerifySection& s : r.sections) {
      Json checks = Json::array();
      for (const Check& c : s.checks)
        checks.push_back(Json{{"what", c.what},
                              {"kernel", c.kernel},
                              {"model", c.model},
                              {"ok", c.ok},
                              {"skipped", c.skipped},
                              {"kernel_errno", verdict_json(c.kernel_errno)},
                              {"model_errno", verdict_json(c.model_errno)}});
      sections.push_back(Json{{"title", s.title}, {"ok", s.ok()}, {"checks", std::move(checks)}});
    }
    j["sections"] = std::move(sections);
    j["notes"] = r.notes;
    return emit(std::move(j));
  }

 private:
  Json header(const LoadedHost& loaded, std::string_view command) const {
    return Json{{"iovamap", kJsonVersion},
                {"command", command},
                {"source", loaded.host.source},
                {"kernel", loaded.host.kernel.to_string()},
                {"policy", policy_name(loaded.policy)}};
  }

  Json device_json(const Device& d, const DmaLimit& lim) const {
    Json j{{"name", d.name}, {"pci", d.is_pci}};
    j["vendor"] = d.is_pci ? Json(hex_width(d.vendor, 4)) : Json(nullptr);
    j["device"] = d.is_pci ? Json(hex_width(d.device_id, 4)) : Json(nullptr);
    j["class"] = d.is_pci ? Json(hex_width(d.class_code, 6)) : Json(nullptr);
    // The names pci.ids gives, null when it has none (or iovamap has no database).
    std::optional<std::string> vendor_name, device_name;
    if (d.is_pci && options_.names) {
      vendor_name = options_.names->vendor_name(d.vendor);
      device_name = options_.names->device_name(d.vendor, d.device_id);
    }
    j["vendor_name"] = vendor_name ? Json(*vendor_name) : Json(nullptr);
    j["device_name"] = device_name ? Json(*device_name) : Json(nullptr);
    j["driver"] = d.driver;
    j["iommu"] = string_or_null(d.iommu);
    j["dma_mask_bits"] = d.dma_mask_bits ? Json(*d.dma_mask_bits) : Json(nullptr);
    j["dma_limit"] =
        Json{{"bits", lim.bits ? Json(*lim.bits) : Json(nullptr)},
             {"source", source_name(lim.source)},
             {"applies_to_vfio", lim.applies_to_vfio},
             {"detail", lim.detail},
             {"stale_hint_bits", lim.stale_hint_bits ? Json(*lim.stale_hint_bits) : Json(nullptr)},
             {"last", lim.bits ? Json(hex(lim.limit_address())) : Json(nullptr)},
             {"also", lim.also}};
    return j;
  }

  // `j` as text, on one line or indented; strings that are not UTF-8 are repaired (each bad
  // byte becomes U+FFFD) and `replaced_` remembers it, rather than failing.
  std::string dump(const Json& j) {
    const int indent = options_.pretty ? 2 : -1;
    try {
      return j.dump(indent);
    } catch (const nlohmann::json::type_error&) {
      replaced_ = true;
      return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  }

  // Writes a whole document; a note says when strings had to be repaired.
  Status emit(Json j) {
    std::string text = dump(j);
    if (replaced_) {
      j["notes"].push_back(
          "some strings from the host were not UTF-8; each bad byte is shown as U+FFFD");
      text = dump(j);
    }
    out_ << text << '\n';
    return {};
  }

  std::ostream& out_;
  OutputOptions options_;
  size_t mappings_ = 0;    // check: how many were written
  bool replaced_ = false;  // a string was not UTF-8
};

}  // namespace

std::unique_ptr<Output> make_json_output(std::ostream& out, const OutputOptions& options) {
  return std::make_unique<JsonOutput>(out, options);
}

}  // namespace iovamap::tool
