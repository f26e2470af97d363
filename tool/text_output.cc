// The text back-end: what a person reads first (output.h). The layouts are those of the
// golden tests (tool/tool_test.cc); host strings go through visible().
#include <algorithm>
#include <cstdio>

#include "iovamap/dma_limit.h"
#include "iovamap/quantity.h"
#include "output.h"
#include "text_table.h"

namespace iovamap::tool {
namespace {

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

void print_notes(const std::vector<std::string>& notes, std::ostream& out) {
  for (const std::string& n : notes) out << "note: " << visible(n) << '\n';
}

std::string limit_text(const DmaLimit& l) {
  std::string out = l.bits ? (l.last ? "up to " + hex(*l.last) : std::to_string(*l.bits) + "-bit") +
                                 " (" + std::string(source_name(l.source)) +
                                 (l.applies_to_vfio ? "" : ", kernel DMA only") + ")"
                           : "unknown";
  if (l.stale_hint_bits)
    out += "; dma_mask_bits " + std::to_string(*l.stale_hint_bits) + " is a stale hint";
  for (const std::string& a : l.also) out += "; also " + a;
  return out;
}

std::string msi_text(const MsiVerdict& v) {
  if (!v.known) return "unknown: " + v.why;
  return std::string(v.isolated ? "isolated" : "NOT isolated") + " (from " + v.why + ")";
}

std::string unsafe_text(const std::optional<bool>& v) {
  return v ? (*v ? "Y" : "N") : "N (default)";
}

// What stops a usable range at its top, in a few words: "msi region of group 7 (driver:
// intel-iommu MSI window)", "the aperture end of groups 6, 7 (dmar0: ...)". The same stop of
// several groups is named once, with the groups.
std::string stop_text(const std::vector<RangeStop>& stops) {
  auto same = [](const RangeStop& a, const RangeStop& b) {
    return a.kind == b.kind && a.device.empty() && b.device.empty() && a.range == b.range &&
           a.type == b.type && a.provenance == b.provenance;
  };
  std::string out;
  for (size_t i = 0; i < stops.size();) {
    const RangeStop& s = stops[i];
    std::vector<uint32_t> groups = {s.group_id};
    size_t j = i + 1;
    for (; j < stops.size() && same(s, stops[j]); ++j) groups.push_back(stops[j].group_id);
    std::string whose = groups.size() > 1 ? "groups " : "group ";
    for (size_t k = 0; k < groups.size(); ++k) whose += (k ? ", " : "") + std::to_string(groups[k]);
    if (!s.device.empty()) whose = s.device;
    if (!out.empty()) out += ", ";
    switch (s.kind) {
      case RangeStop::Kind::kAperture:
        out += "the aperture end of " + whose;
        if (!s.provenance.empty() && !s.provenance[0].detail.empty())
          out += " (" + s.provenance[0].detail + ")";
        break;
      case RangeStop::Kind::kRegion:
        out += std::string(type_name(*s.type)) + " region of " + whose;
        if (!s.provenance.empty()) out += " (" + provenance_text(s.provenance) + ")";
        break;
      case RangeStop::Kind::kListQuirk:
        out += "type1's list (a node the aperture touches is dropped)";
        break;
    }
    i = j;
  }
  return out;
}

class TextOutput : public Output {
 public:
  TextOutput(std::ostream& out, const OutputOptions& options) : out_(out), options_(options) {}

  Status list(const LoadedHost& loaded, const HostSummary& s) override {
    const Host& h = loaded.host;
    out_ << visible(h.source) << ", kernel " << h.kernel.to_string() << ": " << h.iommus.size()
         << " IOMMU unit(s), " << h.groups.size() << " group(s)\n";
    if (!s.units.empty()) {
      out_ << "\nIOMMU units\n";
      Table t;
      t.row({"NAME", "DRIVER", "APERTURE", "SIZE", "PAGE SIZES"});
      for (const UnitSummary& u : s.units)
        t.row({visible(u.unit->name), std::string(driver_name(u.unit->driver)),
               u.aperture ? to_string(u.aperture->range) : "unknown",
               u.aperture ? human_size(u.aperture->range.size()) : "",
               u.page_sizes ? hex(*u.page_sizes) : "unknown"});
      t.print(out_);
    }
    out_ << "\nGroups\n";
    Table t;
    std::vector<std::string> head = {"GROUP", "TYPE",   "DEVICE",   "ID",
                                     "CLASS", "DRIVER", "DMA LIMIT"};
    if (names()) head.push_back("NAME");
    t.row(head);
    for (const GroupSummary& g : s.groups) {
      bool first = true;
      for (const DeviceSummary& ds : g.devices) {
        const Device& d = *ds.device;
        std::vector<std::string> row = {first ? std::to_string(g.group->id) : "",
                                        first ? visible(g.group->type) : "",
                                        visible(d.name),
                                        d.is_pci ? hex4(d.vendor) + ":" + hex4(d.device_id) : "-",
                                        d.is_pci ? hex6(d.class_code) : "-",
                                        d.driver.empty() ? "(none)" : visible(d.driver),
                                        limit_text(ds.limit)};
        if (names())
          row.push_back(d.is_pci ? visible(names()->vendor_device_text(d.vendor, d.device_id,
                                                                       PciNameStyle::kNames))
                                 : "");
        t.row(std::move(row));
        first = false;
      }
      if (g.devices.empty())
        t.row({std::to_string(g.group->id), visible(g.group->type), "(no devices)"});
    }
    t.print(out_);
    // MSI isolation decides whether VFIO and iommufd take a group at all (msi.h).
    out_ << "\nInterrupts\n  MSIs: " << visible(msi_text(s.msi)) << '\n';
    for (const GroupSummary& g : s.groups)
      if (g.msi.known && g.msi.why != s.msi.why)
        out_ << "  group " << g.group->id << ": MSIs " << visible(msi_text(g.msi)) << '\n';
    out_ << "  allow_unsafe_interrupts: vfio_iommu_type1 "
         << unsafe_text(h.type1_allow_unsafe_interrupts) << ", iommufd "
         << unsafe_text(h.iommufd_allow_unsafe_interrupts) << '\n';
    if (!s.notes.empty()) out_ << '\n';
    print_notes(s.notes, out_);
    return {};
  }

  Status regions(const LoadedHost& loaded, const std::vector<GroupModel>& models,
                 const std::vector<std::string>& notes) override {
    out_ << visible(loaded.host.source) << ", kernel " << loaded.host.kernel.to_string()
         << ", policy " << policy_name(loaded.policy) << '\n';
    for (const GroupModel& m : models) {
      out_ << "\ngroup " << m.group_id;
      if (m.aperture) out_ << ", aperture " << to_string(m.aperture->range);
      out_ << '\n';
      Table t;
      t.row({"FIRST", "LAST", "SIZE", "TYPE", "WHY"});
      for (const ReservedRegion& r : m.regions.regions())
        t.row({hex(r.start), hex(r.last()), human_size(r.length == 0 ? u128{1} << 64 : r.length),
               std::string(type_name(r.type)), visible(provenance_text(r.provenance))});
      if (m.regions.empty()) {
        out_ << "  (no reserved regions)\n";
      } else {
        t.print(out_);
      }
      for (const std::string& w : m.warnings) out_ << "  warning: " << visible(w) << '\n';
    }
    if (!notes.empty()) out_ << '\n';
    print_notes(notes, out_);
    return {};
  }

  Status ranges(const LoadedHost& loaded, const ContainerReport& r,
                const std::vector<std::string>& notes) override {
    bool fd = r.rules == ContainerRules::kIommufd;
    if (r.refusal) {
      out_ << (fd ? "iommufd IOAS" : "VFIO type1 container") << " refused ("
           << errno_name(r.refusal->code) << "): " << visible(r.refusal->message) << '\n';
      print_notes(notes, out_);
      return {};
    }
    out_ << "usable IOVA ranges (" << (fd ? "iommufd IOAS" : "VFIO type1") << " rules, policy "
         << policy_name(loaded.policy) << "):\n";
    Table t;
    u128 total = 0;
    for (const UsableRange& u : r.usable) {
      std::vector<std::string> row = {hex(u.range.first), hex(u.range.last),
                                      human_size(u.range.size())};
      if (!u.above.empty()) row.push_back("until " + visible(stop_text(u.above)));
      t.row(std::move(row));
      total += u.range.size();
    }
    t.print(out_);
    out_ << "total " << human_size(total) << ", alignment " << human_size(r.alignment) << '\n';
    for (const std::string& w : r.warnings) out_ << "warning: " << visible(w) << '\n';
    print_notes(notes, out_);
    return {};
  }

  Status check_begin(const LoadedHost&, const std::vector<uint32_t>&) override { return {}; }

  Status check_verdict(const MappingVerdict& v, const std::string& where) override {
    std::string line = v.ok() ? "ok" : "FAIL: " + visible(v.refusal->message);
    if (v.budget_spent)
      line += "; no placement works while the earlier mappings stay";
    else if (!v.ok())
      line += v.nearest ? "; nearest placement that works: " + hex(*v.nearest)
                        : "; no usable range holds this size";
    checks_.row({visible(where), hex(v.mapping.iova), human_size(v.mapping.size), line});
    // Rows are aligned in blocks, so that verdicts stream for a file of any length.
    if (++rows_ % kCheckBlockRows == 0) {
      checks_.print(out_, "");
      checks_ = Table();
    }
    return {};
  }

  Status check_end(bool, const std::vector<std::string>& warnings,
                   const std::vector<std::string>& notes) override {
    checks_.print(out_, "");
    if (rows_ == 0) out_ << "no mappings to check (the map file has none)\n";
    for (const std::string& w : warnings) out_ << "warning: " << visible(w) << '\n';
    print_notes(notes, out_);
    return {};
  }

  Status refused(const LoadedHost&, std::string_view, const std::vector<uint32_t>&,
                 const Error& refusal, const std::vector<std::string>& notes) override {
    out_ << "VFIO type1 container refused (" << errno_name(refusal.code)
         << "): " << visible(refusal.message) << '\n';
    print_notes(notes, out_);
    return {};
  }

  // The steps (drivers to change) are the same under both rules: they are shown once, then
  // each rules' verdict with its refusals.
  Status assignable(const LoadedHost&, const std::vector<AssignReport>& reports,
                    const std::vector<std::string>& notes) override {
    auto print = [&](const AssignFinding& f, bool with_errno) {
      out_ << "  " << (f.group_id ? "group " + std::to_string(*f.group_id) : "this kernel");
      if (!f.device.empty()) out_ << ", " << visible(f.device);
      if (with_errno)
        out_ << " (" << (f.error_number ? errno_name(f.error_number) : "-") << ", "
             << assign_rule_name(f.rule) << ")";
      out_ << ": " << visible(f.evidence) << '\n';
      if (with_errno && !f.kernel_says.empty())
        out_ << "    the kernel: " << visible(f.kernel_says) << '\n';
      out_ << "    rule: " << f.rule_source << '\n';
      out_ << "    what to do: " << visible(f.fix) << '\n';
    };
    bool steps = false;
    if (!reports.empty()) {
      for (const AssignFinding& f : reports.front().findings) {
        if (f.blocks) continue;
        if (!steps)
          out_ << "first: while these devices are bound to their drivers, claiming their "
                  "groups' DMA fails (EPERM) under either rules\n";
        steps = true;
        print(f, false);
      }
    }
    for (const AssignReport& r : reports) {
      out_ << (r.rules == ContainerRules::kIommufd ? "iommufd: " : "VFIO type1: ")
           << (!r.accepted() ? "REFUSED"
               : steps       ? "takes them after that"
                             : "takes them")
           << '\n';
      for (const AssignFinding& f : r.findings)
        if (f.blocks) print(f, true);
    }
    print_notes(notes, out_);
    return {};
  }

  Status info_cap(const LoadedHost&, const InfoCapReport& r) override {
    const GetInfoReply& reply = r.reply;
    out_ << "VFIO_IOMMU_GET_INFO: argsz " << reply.argsz << ", flags " << hex(reply.flags)
         << ", cap_offset " << reply.cap_offset << " ("
         << (r.layout == CapLayout::kPacked ? "packed" : "aligned") << " capabilities)\n";
    for (size_t i = 0; i < reply.bytes.size(); i += 16) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%04zx:", i);
      out_ << buf;
      for (size_t k = i; k < std::min(i + 16, reply.bytes.size()); ++k) {
        bool undefined = false;
        for (const Range& u : reply.undefined) undefined = undefined || u.contains(k);
        std::snprintf(buf, sizeof buf, undefined ? " ??" : " %02x", reply.bytes[k]);
        out_ << buf;
      }
      out_ << '\n';
    }
    print_notes(r.notes, out_);
    return {};
  }

  Status snapshot(const SnapshotReport& r) override {
    out_ << "captured " << r.files << " files, " << r.links << " links, " << r.dirs
         << " directories into " << visible(r.dir) << '\n';
    print_notes(r.warnings, out_);
    return {};
  }

  Status vm_check(const LoadedHost&, const VmCheckReport& r,
                  const std::vector<std::string>& notes) override {
    const VmConfig& vm = r.vm;
    const VmLayout& l = r.layout;
    out_ << "VM " << visible(vm.file) << " (" << vm_format_name(vm.format) << "): machine "
         << visible(vm.machine.name) << ", " << human_size(vm.ram_size) << " RAM, -cpu "
         << visible(vm.cpu.model) << ", " << firmware_name(vm.firmware) << '\n';
    out_ << "vCPU physical address bits: " << l.phys_bits << " (" << visible(l.phys_bits_rule)
         << ")\n";
    out_ << "RAM: " << visible(l.split_rule);
    if (l.amd_relocated) out_ << "; above 4 GiB moved to 1 TiB (AMD HyperTransport range)";
    out_ << '\n';
    if (l.device_memory)
      out_ << "hotplug region: " << hex(l.device_memory->first) << "-" << hex(l.device_memory->last)
           << " (" << human_size(l.device_memory->size()) << ")\n";
    if (l.pci64_window)
      out_ << "PCI window for BARs: " << hex(l.pci64_window->first) << "-"
           << hex(l.pci64_window->last) << " (" << visible(l.pci64_rule) << ")\n";
    out_ << "container: groups";
    for (uint32_t id : r.container.group_ids) out_ << ' ' << id;
    out_ << ", VFIO type1, usable IOVA up to "
         << (r.container.usable.empty() ? std::string("nothing")
                                        : hex(r.container.usable.back().range.last))
         << '\n';
    Table t;
    t.row({"mapping", "kind", "first", "last", "size", "verdict"});
    for (const VmMappingVerdict& v : r.verdicts) {
      const VmMapping& m = v.mapping;
      std::string verdict = "ok";
      if (!v.verdict.ok()) {
        verdict = std::string(m.fatal ? "FATAL" : "warning") + " (" +
                  errno_name(v.verdict.refusal->code) + ")";
      }
      if (m.firmware_placed) verdict += ", placed by firmware";
      t.row({visible(m.name), std::string(vm_mapping_kind_name(m.kind)), hex(m.range.first),
             hex(m.range.last), human_size(m.range.size()), verdict});
    }
    t.print(out_);
    for (const VmMappingVerdict& v : r.verdicts) {
      if (v.verdict.ok()) continue;
      out_ << (v.mapping.fatal ? "FATAL: " : "warning: ") << visible(v.mapping.name) << ": "
           << visible(v.verdict.refusal->message) << '\n';
      out_ << "  QEMU prints: " << visible(v.qemu_message) << '\n';
      if (v.mapping.kind == VmMappingKind::kAssignedBar)
        out_ << "  QEMU runs on: peer-to-peer DMA to this BAR will not work\n";
      else if (!v.mapping.fatal)
        out_ << "  the VM starts; plugging a DIMM there later stops it\n";
    }
    if (l.qemu_refusal)
      out_ << "FATAL: QEMU refuses to start: " << visible(*l.qemu_refusal) << '\n';
    if (r.viommu_problem)
      out_ << (r.viommu_fatal ? "FATAL: " : "warning: ") << visible(*r.viommu_problem) << '\n';
    size_t fatal = 0;
    size_t warnings = 0;
    for (const VmMappingVerdict& v : r.verdicts)
      if (!v.verdict.ok()) (v.mapping.fatal ? fatal : warnings)++;
    if (l.qemu_refusal) ++fatal;
    if (r.viommu_problem) (r.viommu_fatal ? fatal : warnings)++;
    if (r.clean()) {
      out_ << "verdict: the VM starts; every mapping is accepted\n";
    } else {
      out_ << "verdict: " << (r.starts() ? "the VM starts, with warnings" : "the VM will NOT start")
           << " (" << fatal << " fatal, " << warnings << " warning" << (warnings == 1 ? "" : "s")
           << ")\n";
    }
    if (r.fix) {
      out_ << "fix"
           << (r.fix->verified ? " (checked: the changed VM passes)"
                               : " (partial: the changed VM still fails)")
           << ":\n";
      for (const VmChange& ch : r.fix->changes)
        out_ << "  " << visible(ch.text) << "\n    why: " << visible(ch.why) << '\n';
      for (const std::string& cv : r.fix->caveats) out_ << "  also: " << visible(cv) << '\n';
    } else if (!r.clean()) {
      out_ << "fix: none found by changing phys-bits, aw-bits, machine, CPU, maxmem or RAM\n";
    }
    for (const std::string& a : l.assumptions) out_ << "assumption: " << visible(a) << '\n';
    print_notes(notes, out_);
    return {};
  }

  Status verify(const LoadedHost&, const VerifyReport& r) override {
    print_notes(r.notes, out_);
    for (const VerifySection& s : r.sections) {
      out_ << visible(s.title) << ":\n";
      for (const Check& c : s.checks) {
        if (c.skipped) {
          out_ << "skipped   " << visible(c.what) << ": kernel " << visible(c.kernel) << ", model "
               << visible(c.model) << "\n";
        } else if (c.ok) {
          out_ << "ok        " << visible(c.what) << ": " << visible(c.kernel) << "\n";
        } else {
          out_ << "MISMATCH  " << visible(c.what) << "\n    kernel: " << visible(c.kernel)
               << "\n    model:  " << visible(c.model) << "\n";
        }
      }
    }
    out_ << (r.ok() ? "verify: the kernel agrees with the model\n"
                    : "verify: the kernel DISAGREES with the model (see MISMATCH above)\n");
    return {};
  }

 private:
  // The names to show: none with -n, or when there is no database.
  const PciNames* names() const {
    return options_.numeric || !options_.names || !options_.names->has_names() ? nullptr
                                                                               : options_.names;
  }

  // How many check verdicts are aligned together.
  static constexpr size_t kCheckBlockRows = 1024;

  std::ostream& out_;
  OutputOptions options_;
  Table checks_;
  size_t rows_ = 0;
};

}  // namespace

std::unique_ptr<Output> make_text_output(std::ostream& out, const OutputOptions& options) {
  return std::make_unique<TextOutput>(out, options);
}

}  // namespace iovamap::tool
