// The commands of the iovamap tool, one function each, and their table (command.h).
#include "command.h"

#include "iovamap/assignability.h"
#include "iovamap/container.h"
#include "iovamap/device_selection.h"
#include "iovamap/host_summary.h"
#include "iovamap/input_file.h"
#include "iovamap/map_file.h"
#include "iovamap/mapping_check.h"
#include "iovamap/snapshot.h"
#include "iovamap/sysfs_reader.h"
#include "iovamap/verify.h"
#include "iovamap/vfio_info.h"
#include "iovamap/vm_check.h"
#include "iovamap/vm_libvirt.h"
#include "iovamap/vm_proxmox.h"
#include "iovamap/vm_qemu_args.h"

namespace iovamap::tool {
namespace {

constexpr bool kNeedsHost = true;
constexpr const char* kSelectorHelp =
    "IOMMU group numbers, or devices as lspci -s writes them (01:00.0, 0000:01:00.0)";

// The groups the command line selects. A host without groups is an error for every command
// that needs one: there is nothing to model.
Result<Selection> select(const Context& c, bool all_if_empty) {
  const Host& h = c.host->host;
  if (h.groups.empty())
    return make_error(ENODEV, "no IOMMU groups in " + h.source +
                                  ": no IOMMU, or it is off (intel_iommu=on / amd_iommu=on?)");
  return select_groups(h, c.options.selectors, c.options.id_filters, all_if_empty);
}

// What to tell people along with an answer about these groups: the selection's notes, then
// the host's notes about them.
std::vector<std::string> notes_for(const Context& c, const Selection& s) {
  std::vector<std::string> out = selection_notes(s);
  std::vector<std::string> host = c.host->notes_for(s.group_ids());
  out.insert(out.end(), host.begin(), host.end());
  return out;
}

// ---- list ------------------------------------------------------------------------------------

void add_list_options(CLI::App& cmd, Options& o) {
  cmd.add_option("GROUP|DEVICE", o.selectors, "only these groups or devices (default: all)");
}

Result<bool> run_list(Context& c) {
  IOVAMAP_ASSIGN_OR_RETURN(Selection s, select(c, true));
  if (!c.options.selectors.empty() || !c.options.id_filters.empty()) {
    // Listing a part of the host: the same host with only the selected groups.
    LoadedHost part = *c.host;
    std::vector<uint32_t> ids = s.group_ids();
    std::erase_if(part.host.groups, [&](const Group& g) {
      return std::find(ids.begin(), ids.end(), g.id) == ids.end();
    });
    std::erase_if(part.notes, [&](const HostNote& n) {
      return n.group_id && std::find(ids.begin(), ids.end(), *n.group_id) == ids.end();
    });
    IOVAMAP_RETURN_IF_ERROR(c.output.list(part, summarize_host(part)));
    return true;
  }
  IOVAMAP_RETURN_IF_ERROR(c.output.list(*c.host, summarize_host(*c.host)));
  return true;
}

// ---- regions ---------------------------------------------------------------------------------

void add_regions_options(CLI::App& cmd, Options& o) {
  cmd.add_option("GROUP|DEVICE", o.selectors, std::string(kSelectorHelp) + " (default: all)");
}

Result<bool> run_regions(Context& c) {
  IOVAMAP_ASSIGN_OR_RETURN(Selection s, select(c, true));
  std::vector<GroupModel> models;
  for (uint32_t id : s.group_ids()) {
    IOVAMAP_ASSIGN_OR_RETURN(
        GroupModel m, model_group(c.host->host, *c.host->host.find_group(id), c.host->policy));
    models.push_back(std::move(m));
  }
  IOVAMAP_RETURN_IF_ERROR(c.output.regions(*c.host, models, notes_for(c, s)));
  return true;
}

// ---- ranges ----------------------------------------------------------------------------------

void add_ranges_options(CLI::App& cmd, Options& o) {
  cmd.add_option("GROUP|DEVICE", o.selectors, kSelectorHelp);
  cmd.add_flag("--iommufd", o.iommufd, "iommufd IOAS rules instead of VFIO type1");
}

Result<bool> run_ranges(Context& c) {
  IOVAMAP_ASSIGN_OR_RETURN(Selection s, select(c, false));
  IOVAMAP_ASSIGN_OR_RETURN(
      ContainerReport r,
      describe_container(c.host->host, s.group_ids(), c.host->policy,
                         c.options.iommufd ? ContainerRules::kIommufd : ContainerRules::kType1));
  IOVAMAP_RETURN_IF_ERROR(c.output.ranges(*c.host, r, notes_for(c, s)));
  return !r.refusal;
}

// ---- check -----------------------------------------------------------------------------------

void add_check_options(CLI::App& cmd, Options& o) {
  cmd.add_option("GROUP|DEVICE", o.selectors, kSelectorHelp);
  cmd.add_option("--map", o.map_file, "the planned mappings, 'IOVA SIZE' per line; - for stdin")
      ->required();
}

Result<bool> run_check(Context& c) {
  IOVAMAP_ASSIGN_OR_RETURN(Selection s, select(c, false));
  // The whole map file is read and checked first, so that a bad line stops the command before
  // it has answered anything; then the verdicts stream, with memory for the live mappings only.
  const std::string& map = c.options.map_file;
  std::string name = map == "-" ? "<stdin>" : map;
  IOVAMAP_ASSIGN_OR_RETURN(MapFile file,
                           map == "-" ? MapFile::from_fd(c.in_fd, name) : MapFile::open(map));
  IOVAMAP_RETURN_IF_ERROR(file.validate());
  Result<MappingChecker> checker =
      MappingChecker::create(c.host->host, s.group_ids(), c.host->policy);
  if (!checker) {
    if (checker.error().kind != ErrorKind::kRefused) return checker.error();
    IOVAMAP_RETURN_IF_ERROR(
        c.output.refused(*c.host, "check", s.group_ids(), checker.error(), notes_for(c, s)));
    return false;
  }
  IOVAMAP_RETURN_IF_ERROR(c.output.check_begin(*c.host, s.group_ids()));
  bool all_ok = true;
  IOVAMAP_RETURN_IF_ERROR(file.for_each([&](const PlannedMapping& p) -> Status {
    MappingVerdict v = checker->check(p);
    all_ok = all_ok && v.ok();
    IOVAMAP_RETURN_IF_ERROR(c.output.check_verdict(v, name + ":" + std::to_string(p.line)));
    return c.flush(false);
  }));
  IOVAMAP_RETURN_IF_ERROR(c.output.check_end(all_ok, checker->warnings(), notes_for(c, s)));
  IOVAMAP_RETURN_IF_ERROR(c.flush(true));
  return all_ok;
}

// ---- info-cap --------------------------------------------------------------------------------

void add_info_cap_options(CLI::App& cmd, Options& o) {
  cmd.add_option("GROUP|DEVICE", o.selectors, kSelectorHelp);
  cmd.add_option("--layout", o.layout, "packed (before 6.6) | aligned (default: the kernel's)")
      ->check(CLI::IsMember({"packed", "aligned"}));
}

Result<bool> run_info_cap(Context& c) {
  IOVAMAP_ASSIGN_OR_RETURN(Selection s, select(c, false));
  Result<Type1Model> model = model_type1(c.host->host, s.group_ids(), c.host->policy);
  if (!model) {
    if (model.error().kind != ErrorKind::kRefused) return model.error();
    IOVAMAP_RETURN_IF_ERROR(
        c.output.refused(*c.host, "info-cap", s.group_ids(), model.error(), notes_for(c, s)));
    return false;
  }
  GetInfoOptions options = GetInfoOptions::for_kernel(c.host->host.kernel);
  if (c.options.layout == "packed") options.layout = CapLayout::kPacked;
  if (c.options.layout == "aligned") options.layout = CapLayout::kAligned;
  // As a VFIO user does: ask with the bare struct to learn argsz, then with that size.
  Type1InfoState state = model->container.info_state();
  IOVAMAP_ASSIGN_OR_RETURN(GetInfoReply probe, type1_get_info(state, 16, options));
  IOVAMAP_ASSIGN_OR_RETURN(GetInfoReply reply, type1_get_info(state, probe.argsz, options));
  // The reply claims to be the kernel's bytes: page sizes the model does not know (a
  // virtio-iommu's page_size_mask is not in sysfs) are not written as if it did.
  std::vector<std::string> notes = notes_for(c, s);
  bool pgsizes_known = std::all_of(model->groups.begin(), model->groups.end(),
                                   [](const GroupModel& g) { return g.page_sizes.has_value(); });
  if (!pgsizes_known) {
    for (const Range& r : reply.pgsize_bytes) {
      for (uint64_t i = r.first; i <= r.last && i < reply.bytes.size(); ++i) reply.bytes[i] = 0;
      reply.undefined.push_back(r);
    }
    notes.push_back("the page sizes are not known (not in sysfs): their bytes are left undefined");
  }
  IOVAMAP_RETURN_IF_ERROR(
      c.output.info_cap(*c.host, {s.group_ids(), options.layout, std::move(reply), notes}));
  return true;
}

// ---- assignable ------------------------------------------------------------------------------

void add_assignable_options(CLI::App& cmd, Options& o) {
  cmd.add_option("GROUP|DEVICE", o.selectors, kSelectorHelp);
}

// Whether VFIO type1 and iommufd take the selected groups, together in one container: exit 0
// when both would (perhaps after the listed steps), 1 when either refuses.
Result<bool> run_assignable(Context& c) {
  IOVAMAP_ASSIGN_OR_RETURN(Selection s, select(c, false));
  std::vector<AssignReport> reports;
  for (ContainerRules rules : {ContainerRules::kType1, ContainerRules::kIommufd}) {
    IOVAMAP_ASSIGN_OR_RETURN(AssignReport r, assess_assignment(c.host->host, s.group_ids(), rules));
    reports.push_back(std::move(r));
  }
  IOVAMAP_RETURN_IF_ERROR(c.output.assignable(*c.host, reports, notes_for(c, s)));
  return std::all_of(reports.begin(), reports.end(),
                     [](const AssignReport& r) { return r.accepted(); });
}

// ---- snapshot --------------------------------------------------------------------------------

void add_snapshot_options(CLI::App& cmd, Options& o) {
  cmd.add_option("DIR", o.snapshot_dir, "a new directory")->required();
}

Result<bool> run_snapshot(Context& c) {
  const Options& o = c.options;
  if (!o.topology.empty()) return make_error(EINVAL, "snapshot captures a host, not a topology");
  if (!o.selectors.empty() || !o.id_filters.empty())
    return make_error(EINVAL, "snapshot captures the whole host: it takes no group or device");
  IOVAMAP_ASSIGN_OR_RETURN(std::unique_ptr<SysfsReader> reader,
                           open_root_reader(o.root.empty() ? "/" : o.root));
  IOVAMAP_ASSIGN_OR_RETURN(SnapshotReport r, capture_snapshot(*reader, o.snapshot_dir));
  IOVAMAP_RETURN_IF_ERROR(c.output.snapshot(r));
  return true;
}

// ---- verify ----------------------------------------------------------------------------------

void add_verify_options(CLI::App& cmd, Options& o) {
  cmd.add_option("GROUP|DEVICE", o.selectors, kSelectorHelp);
  cmd.add_flag("--probe", o.probe, "also MAP_DMA one page at every boundary (unmapped at once)");
}

Result<bool> run_verify(Context& c) {
  if (c.host->source == HostSource::kTopology)
    return make_error(EINVAL, "verify asks a running kernel, not a topology");
  IOVAMAP_ASSIGN_OR_RETURN(Selection s, select(c, false));
  IOVAMAP_ASSIGN_OR_RETURN(VerifyReport r,
                           verify_host(*c.host, s.group_ids(), {.probe = c.options.probe}));
  std::vector<std::string> notes = selection_notes(s);  // verify_host has the host's notes
  r.notes.insert(r.notes.begin(), notes.begin(), notes.end());
  IOVAMAP_RETURN_IF_ERROR(c.output.verify(*c.host, r));
  return r.ok();
}

// ---- vm-check --------------------------------------------------------------------------------

void add_vm_check_options(CLI::App& cmd, Options& o) {
  cmd.add_option("--qemu", o.vm_qemu, "a file holding the QEMU command line");
  cmd.add_option("--libvirt", o.vm_libvirt, "a libvirt domain XML (virsh dumpxml NAME)");
  cmd.add_option("--proxmox", o.vm_proxmox,
                 "a Proxmox VM configuration (qm config VMID, /etc/pve/qemu-server/VMID.conf)");
  cmd.add_option("--host-phys-bits", o.host_phys_bits,
                 "the host CPU's physical address bits (default: from proc/cpuinfo)")
      ->check(CLI::Range(32u, 64u));
  cmd.add_option("--host-cpu-vendor", o.host_cpu_vendor,
                 "the host CPU's vendor (default: from proc/cpuinfo)")
      ->check(CLI::IsMember({"intel", "amd"}));
  // One value per --bar, collected as they come: a vector option would take the "--" that
  // starts QEMU's arguments as the end of its own list (CLI11 2.3).
  cmd.add_option("--bar", o.bar_value,
                 "DEVICE=SIZE: a 64-bit BAR of an assigned device (default: from sysfs "
                 "resource); repeat for more")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->each([&o](const std::string& v) { o.bars.push_back(v); });
  cmd.add_option("QEMU_ARGS", o.vm_args, "QEMU's arguments, after --");
}

// The VM the command line names, read and parsed; errors name the file and line.
Result<VmConfig> read_vm(const Options& o) {
  int given =
      !o.vm_qemu.empty() + !o.vm_libvirt.empty() + !o.vm_proxmox.empty() + !o.vm_args.empty();
  if (given != 1)
    return make_error(EINVAL,
                      "vm-check takes one VM: --qemu FILE, --libvirt FILE, --proxmox "
                      "FILE, or QEMU's arguments after --");
  if (!o.vm_args.empty()) {
    std::vector<QemuArg> args;
    for (const std::string& a : o.vm_args) args.push_back({a, 1});
    return parse_qemu_args(args, "<arguments>");
  }
  const std::string& path = !o.vm_qemu.empty()      ? o.vm_qemu
                            : !o.vm_libvirt.empty() ? o.vm_libvirt
                                                    : o.vm_proxmox;
  IOVAMAP_ASSIGN_OR_RETURN(std::string text, read_input_file(path, kMaxTopologyBytes));
  if (!o.vm_qemu.empty()) return parse_qemu_command_file(text, path);
  if (!o.vm_libvirt.empty()) return parse_libvirt_domain(text, path);
  return parse_proxmox_config(text, path);
}

// The device a --bar or a sysfs name means among the selected ones ("01:00.0" ends
// "0000:01:00.0").
std::optional<std::string> match_device(const std::vector<std::string>& devices,
                                        std::string_view given) {
  for (const std::string& d : devices)
    if (d == given ||
        (d.size() > given.size() && d.ends_with(given) && d[d.size() - given.size() - 1] == ':'))
      return d;
  return std::nullopt;
}

Result<bool> run_vm_check(Context& c) {
  const Options& o = c.options;
  IOVAMAP_ASSIGN_OR_RETURN(VmConfig vm, read_vm(o));
  if (vm.host_devices.empty())
    return make_error(EINVAL, vm.file +
                                  ": the VM assigns no vfio-pci device: there is no "
                                  "container to check it against");
  const Host& h = c.host->host;
  if (h.groups.empty())
    return make_error(ENODEV, "no IOMMU groups in " + h.source +
                                  ": no IOMMU, or it is off (intel_iommu=on / amd_iommu=on?)");
  std::vector<std::string> selectors;
  for (const VmHostDevice& d : vm.host_devices) selectors.push_back(d.address);
  Result<Selection> selected = select_groups(h, selectors, {}, false);
  if (!selected) return selected.error().with_context(vm.file);
  const Selection& s = *selected;
  std::vector<std::string> devices;
  for (const SelectedGroup& g : s.groups)
    for (const std::string& d : g.selected_devices) devices.push_back(d);

  VmCheckHost host{.host = &h, .policy = c.host->policy, .group_ids = s.group_ids()};
  std::vector<std::string> notes = notes_for(c, s);
  std::unique_ptr<SysfsReader> reader;
  if (!c.host->root.empty()) {
    Result<std::unique_ptr<SysfsReader>> r = open_root_reader(c.host->root);
    if (r) reader = std::move(*r);
  }
  if (reader) {
    Result<VmHostCpu> cpu = read_host_cpu(*reader);
    if (cpu) {
      host.cpu = *cpu;
    } else if (cpu.error().code != ENOENT) {
      return cpu.error();
    }
  }
  if (o.host_phys_bits) {
    host.cpu.phys_bits = o.host_phys_bits;
    host.cpu.source = "--host-phys-bits";
  }
  if (!o.host_cpu_vendor.empty())
    host.cpu.vendor = o.host_cpu_vendor == "amd" ? CpuVendor::kAmd : CpuVendor::kIntel;
  if (!host.cpu.phys_bits) notes.push_back("the host CPU's physical address bits are unknown");
  for (const std::string& d : devices) {
    if (!reader) break;
    Result<std::vector<VmBar>> bars = read_device_bars(*reader, d);
    if (bars) {
      host.bars.insert(host.bars.end(), bars->begin(), bars->end());
    } else if (bars.error().code == ENOENT) {
      bool declared = std::any_of(o.bars.begin(), o.bars.end(), [&](const std::string& b) {
        return match_device({d}, std::string_view(b).substr(0, b.find('='))).has_value();
      });
      if (!declared)
        notes.push_back(d +
                        ": its BARs are unknown (no sysfs resource file); give them with "
                        "--bar DEVICE=SIZE");
    } else {
      return bars.error();
    }
  }
  if (!reader && o.bars.empty() && !devices.empty())
    notes.push_back(
        "the assigned devices' BARs are unknown on a topology; give them with --bar "
        "DEVICE=SIZE");
  for (const std::string& b : o.bars) {
    size_t eq = b.find('=');
    if (eq == std::string::npos) return make_error(EINVAL, "--bar " + b + ": expected DEVICE=SIZE");
    std::optional<std::string> dev = match_device(devices, b.substr(0, eq));
    if (!dev) return make_error(EINVAL, "--bar " + b + ": not one of the VM's assigned devices");
    Result<uint64_t> size = parse_qemu_size(b.substr(eq + 1), 'B');
    if (!size) return size.error().with_context("--bar " + b);
    if (*size == 0 || (*size & (*size - 1)) != 0)
      return make_error(EINVAL, "--bar " + b + ": a BAR's size is a power of two");
    unsigned index = static_cast<unsigned>(std::count_if(
        host.bars.begin(), host.bars.end(), [&](const VmBar& x) { return x.device == *dev; }));
    host.bars.push_back({*dev, index, *size, true, true});
  }

  Result<VmCheckReport> report = check_vm(vm, host);
  if (!report) {
    if (report.error().kind != ErrorKind::kRefused) return report.error();
    IOVAMAP_RETURN_IF_ERROR(
        c.output.refused(*c.host, "vm-check", s.group_ids(), report.error(), notes));
    return false;
  }
  IOVAMAP_RETURN_IF_ERROR(c.output.vm_check(*c.host, *report, notes));
  return report->clean();
}

}  // namespace

const std::vector<CommandRow>& commands() {
  static const std::vector<CommandRow> rows = {
      {"list", "groups, devices, drivers, IOMMUs, DMA limits and their sources",
       "Examples:\n  iovamap list\n  iovamap -d 8086:10d3 list\n  iovamap --format json list",
       kNeedsHost, add_list_options, run_list},
      {"regions", "reserved regions per group; --format sysfs prints the kernel's file",
       "Examples:\n  iovamap regions 01:00.0\n"
       "  iovamap --policy kernel --format sysfs regions 7   # = the kernel's reserved_regions",
       kNeedsHost, add_regions_options, run_regions},
      {"ranges", "usable IOVA ranges of one container holding these groups or devices",
       "Examples:\n  iovamap ranges 01:00.0 02:00.0\n  iovamap --dma-limit 01:00.0=40 ranges "
       "01:00.0\n"
       "  iovamap --policy kernel --format sysfs ranges --iommufd 7",
       kNeedsHost, add_ranges_options, run_ranges},
      {"check", "check planned DMA mappings ('IOVA SIZE' per line); exit 1 if any fails",
       "A map file holds one mapping per line, 'IOVA SIZE' (hex with 0x or decimal, sizes with\n"
       "an optional K/M/G/T/P/E or KiB... unit); # starts a comment.\n"
       "Examples:\n  printf '0x0 3G\\n0x100000000 61G\\n' | iovamap check 01:00.0 --map -",
       kNeedsHost, add_check_options, run_check},
      {"info-cap", "the VFIO_IOMMU_GET_INFO reply bytes",
       "Examples:\n  iovamap info-cap 7\n  iovamap info-cap --layout packed 7", kNeedsHost,
       add_info_cap_options, run_info_cap},
      {"assignable",
       "will VFIO type1 and iommufd take these devices? each refusal with its evidence and fix",
       "Exit 0: both take them (perhaps after the steps listed), 1: one refuses.\n"
       "Examples:\n  iovamap assignable 01:00.0\n  iovamap -d 10de: assignable",
       kNeedsHost, add_assignable_options, run_assignable},
      {"snapshot", "capture this host (or --root) into DIR",
       "Examples:\n  sudo iovamap snapshot /tmp/host-snap   # then: iovamap --root /tmp/host-snap "
       "list",
       !kNeedsHost, add_snapshot_options, run_snapshot},
      {"verify",
       "ask the running kernel (VFIO, iommufd) and compare with the model; exit 1 on a "
       "mismatch, 2 when it cannot ask",
       "Examples:\n  sudo iovamap verify --probe 01:00.0", kNeedsHost, add_verify_options,
       run_verify},
      {"vm-check",
       "will this VM start? its guest memory and BARs against its devices' container, with the "
       "fix; exit 1 if any mapping fails",
       "Examples:\n  iovamap vm-check --libvirt <(virsh dumpxml win11)\n"
       "  iovamap vm-check --proxmox /etc/pve/qemu-server/100.conf\n"
       "  iovamap --root snap vm-check -- -M q35 -m 16G -cpu host -device vfio-pci,host=01:00.0",
       kNeedsHost, add_vm_check_options, run_vm_check},
  };
  return rows;
}

}  // namespace iovamap::tool
