// Loading a host once (host_loader.h).
#include "iovamap/host_loader.h"

#include <algorithm>
#include <filesystem>

#include "iovamap/device_selection.h"
#include "iovamap/discovery.h"
#include "iovamap/firmware.h"
#include "iovamap/firmware_dma_limit.h"
#include "iovamap/firmware_match.h"
#include "iovamap/input_file.h"
#include "iovamap/sysfs_reader.h"
#include "iovamap/topology.h"

namespace iovamap {
std::vector<std::string> LoadedHost::notes_for(const std::vector<uint32_t>& group_ids) const {
  std::vector<std::string> out;
  for (const HostNote& n : notes)
    if (!n.group_id ||
        std::find(group_ids.begin(), group_ids.end(), *n.group_id) != group_ids.end())
      out.push_back(n.message);
  return out;
}

std::vector<std::string> LoadedHost::all_notes() const {
  std::vector<std::string> out;
  for (const HostNote& n : notes) out.push_back(n.message);
  return out;
}

namespace {
// What the firmware tables give a host, as the kernel derives it: each device's regions (RMRR,
// IVMD, RMR), then the interconnect's DMA limits (IORT, device tree; a limit a device already
// has, such as a topology's firmware-dma-bits, is kept). Each group concerned gets a note.
void derive_from_firmware(LoadedHost& out, const FirmwareMatchOptions& match, SysfsReader& reader) {
  for (FirmwareMatchNote& n : match_firmware_regions(out.host, match))
    out.notes.push_back({n.group_id, std::move(n.message)});
  for (FirmwareMatchNote& n : apply_firmware_dma_limits(out.host, reader))
    out.notes.push_back({n.group_id, std::move(n.message)});
}
}  // namespace

Result<LoadedHost> load_host(const HostSpec& spec) {
  LoadedHost out;
  out.policy = spec.policy;
  out.source = spec.source;
  if (spec.source == HostSource::kTopology) {
    IOVAMAP_ASSIGN_OR_RETURN(std::string text, read_input_file(spec.path, kMaxTopologyBytes));
    std::vector<TopologyTableRef> tables;
    IOVAMAP_ASSIGN_OR_RETURN(out.host, parse_topology(text, spec.path, &tables));
    if (!tables.empty()) {
      // The ACPI tables the file declares, read relative to it, then matched as a live host's
      // are. No sysfs: devices sit on their root bus for DMAR scopes, and named components
      // have no ACPI path for IORT limits.
      for (const TopologyTableRef& t : tables) {
        const std::filesystem::path file = std::filesystem::path(spec.path).parent_path() / t.path;
        Result<std::string> bytes = read_input_file(file.string(), kMaxAcpiTableBytes);
        if (!bytes) return bytes.error().with_context(t.where);
        Status set = set_firmware_table(out.host.firmware, t.signature, *bytes);
        if (!set) return set.error().with_context(t.where + ": " + file.string());
      }
      // The command line's --pci-boot-config wins over the file's.
      FirmwareMatchOptions match{.pci_boot_config_preserved =
                                     spec.pci_boot_config_preserved
                                         ? spec.pci_boot_config_preserved
                                         : out.host.firmware.pci_boot_config_preserved};
      FakeSysfs none;
      derive_from_firmware(out, match, none);
    }
  } else {
    out.root = spec.path.empty() ? "/" : spec.path;
    std::unique_ptr<SysfsReader> opened;
    SysfsReader* reader = spec.reader;
    if (!reader) {
      Result<std::unique_ptr<SysfsReader>> r = open_root_reader(out.root);
      if (!r) {
        Error e = r.error();
        if (spec.source == HostSource::kLive) e.kind = ErrorKind::kSystem;
        return e;
      }
      opened = std::move(*r);
      reader = opened.get();
    }
    std::string source =
        spec.source == HostSource::kLive ? std::string("live host") : "snapshot " + out.root;
    IOVAMAP_ASSIGN_OR_RETURN(Discovery found, discover(*reader, source));
    out.host = std::move(found.host);
    IOVAMAP_ASSIGN_OR_RETURN(out.host.firmware, read_firmware(*reader));
    for (std::string& w : found.warnings) out.notes.push_back({std::nullopt, std::move(w)});
    // The firmware's regions and DMA limits first (before declared limits are applied): only
    // what the tables do not explain is kept as observed below.
    derive_from_firmware(out, {.pci_boot_config_preserved = spec.pci_boot_config_preserved},
                         *reader);
    // What the kernel showed and the model cannot derive is kept (as observed regions), so that
    // every answer includes it; each group where that happened gets a note.
    for (ObservedNote& n : explain_observed_regions(out.host))
      out.notes.push_back({n.group_id, std::move(n.message)});
  }
  IOVAMAP_RETURN_IF_ERROR(apply_dma_limits(&out.host, spec.dma_limits));
  return out;
}

}  // namespace iovamap
