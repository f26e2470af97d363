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
  };
  return rows;
}

}  // namespace iovamap::tool
