// Firmware bus DMA limits (firmware_dma_limit.h). Rules read in Debian's linux-source-6.12
// (6.12.95), cited by file and function.
#include "iovamap/firmware_dma_limit.h"

#include <cstdio>
#include <map>
#include <string_view>

namespace iovamap {
namespace {

// The PCI segment of "SSSS:BB:DD.F"; nullopt for another name.
std::optional<uint32_t> pci_segment(std::string_view name) {
  unsigned seg = 0, bus = 0, dev = 0, fn = 0;
  std::string text(name);
  if (std::sscanf(text.c_str(), "%x:%x:%x.%x", &seg, &bus, &dev, &fn) != 4) return std::nullopt;
  return seg;
}

std::string parent_of(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

// ---- IORT -----------------------------------------------------------------------------------

FirmwareDmaLimit from_iort(const IortNode& node, const std::string& what) {
  IortDmaLimit l = iort_dma_limit(node);
  std::string detail =
      "IORT " + iort_node_type_name(node.type) + " node " + std::to_string(node.index) + " " + what;
  if (!l.last) return {std::nullopt, detail + ": declared, ignored by the kernel (" + l.why + ")"};
  return {l.last, detail + ": memory address size limit " +
                      std::to_string(node.memory_address_limit) + " bits"};
}

// The ACPI path of the device's companion, or of its nearest ancestor's (iort.c
// iort_match_node_callback walks up the parents for an ACPI companion): sysfs
// `firmware_node/path` of the device's directory and those above it.
std::optional<std::string> acpi_path(const Device& device, SysfsReader& reader) {
  std::string dir = device.sysfs_path;
  for (int hops = 0; hops < 64 && dir.size() > std::string_view("sys/devices").size(); ++hops) {
    if (Result<std::string> p = reader.read_file(dir + "/firmware_node/path"))
      return std::string(strip_newline(*p));
    dir = parent_of(dir);
  }
  return std::nullopt;
}

// iort_dma_get_ranges: PCI devices through rc_dma_get_range (the first root complex node of the
// device's segment, iort_scan_node in table order: below revision 1 the kernel reads no limit),
// others through nc_dma_get_range (the first named component whose name is the ACPI path of the
// device's companion). Either way a limit of 0 is a firmware bug the kernel skips, and 64 or
// more is no limit (iort.c, iort_dma_limit).
std::optional<FirmwareDmaLimit> iort_limit(const Iort& iort, const Device& device,
                                           SysfsReader& reader) {
  if (device.is_pci) {
    std::optional<uint32_t> seg = pci_segment(device.name);
    if (!seg) return std::nullopt;
    const IortNode* rc = iort.root_complex(*seg);
    if (!rc) return std::nullopt;
    return from_iort(*rc, "(segment " + std::to_string(*seg) + ")");
  }
  if (device.sysfs_path.empty()) return std::nullopt;
  std::optional<std::string> path = acpi_path(device, reader);
  if (!path) return std::nullopt;
  for (const IortNode& n : iort.nodes)
    if (n.type == static_cast<uint8_t>(IortNodeType::kNamedComponent) && n.name == *path)
      return from_iort(n, "(" + *path + ")");
  return std::nullopt;
}

// ---- Device tree ----------------------------------------------------------------------------

// The device-tree node (below the root) a directory's `of_node` link points to.
std::optional<std::string> of_node(const std::string& dir, SysfsReader& reader) {
  const std::string link = dir + "/of_node";
  Result<std::string> target = reader.read_link(link);
  if (!target) return std::nullopt;
  std::string node = resolve_link_text(link, *target);
  const std::string base = kDeviceTreeDir;
  if (node == base) return std::string();
  if (node.compare(0, base.size() + 1, base + "/") != 0) return std::nullopt;
  return node.substr(base.size() + 1);
}

// The node whose dma-ranges apply: PCI devices use their host bridge's parent's node itself
// (drivers/pci/pci-driver.c pci_dma_configure passes it to of_dma_configure), a platform
// device the DMA parent of its own node (of_dma_configure_id, __of_get_dma_parent: the parent).
std::optional<std::string> dt_start(const Device& device, SysfsReader& reader) {
  if (device.sysfs_path.empty()) return std::nullopt;
  if (!device.is_pci) {
    std::optional<std::string> own = of_node(device.sysfs_path, reader);
    if (!own || own->empty()) return std::nullopt;
    return parent_of(*own);
  }
  // The directory above the host bridge "pciSSSS:BB".
  std::string_view path = device.sysfs_path;
  size_t at = path.find("/pci");
  while (at != std::string_view::npos) {
    size_t end = path.find('/', at + 1);
    std::string_view part = path.substr(at + 1, end == std::string_view::npos ? end : end - at - 1);
    unsigned seg = 0, bus = 0;
    int used = 0;
    std::string text(part);
    if (std::sscanf(text.c_str(), "pci%x:%x%n", &seg, &bus, &used) == 2 &&
        used == static_cast<int>(text.size()))
      return of_node(std::string(path.substr(0, at)), reader);
    at = path.find("/pci", at + 1);
  }
  return std::nullopt;
}

// of_dma_get_range (drivers/of/address.c): from the start node upwards, the first node with a
// non-empty dma-ranges; an empty one means no translation and the walk goes on, but after the
// start node a node without the property ends it with no limit (-ENODEV), as does the root. The
// limit is dma_range_map_max over the entries (dt_bus_dma_limit); none counting is -EINVAL:
// no bus limit either.
std::optional<FirmwareDmaLimit> dt_limit(const std::map<std::string, const DtDmaRangesNode*>& nodes,
                                         std::string node) {
  for (int depth = 0; depth <= kMaxDtDepth + 1; ++depth) {
    auto it = nodes.find(node);
    if (it == nodes.end() && depth > 0) return std::nullopt;
    if (it != nodes.end() && !it->second->empty) {
      const std::string where =
          "device tree " + (node.empty() ? std::string("/") : node) + " dma-ranges";
      DtDmaLimit l = dt_bus_dma_limit(it->second->ranges);
      if (!l.last)
        return FirmwareDmaLimit{std::nullopt,
                                where + ": declared, ignored by the kernel (" + l.why + ")"};
      return FirmwareDmaLimit{l.last, where + ": bus addresses up to " + hex(*l.last)};
    }
    if (node.empty()) return std::nullopt;
    node = parent_of(node);
  }
  return std::nullopt;
}

}  // namespace

std::vector<FirmwareMatchNote> apply_firmware_dma_limits(Host& host, SysfsReader& reader) {
  std::vector<FirmwareMatchNote> notes;
  const Firmware& fw = host.firmware;
  std::map<std::string, const DtDmaRangesNode*> dt_nodes;
  for (const DtDmaRangesNode& n : fw.dma_ranges) dt_nodes.emplace(n.path, &n);
  if (!fw.iort && dt_nodes.empty()) return notes;
  for (Group& group : host.groups) {
    for (Device& device : group.devices) {
      if (device.firmware_dma_limit) continue;  // declared (topology firmware-dma-bits): it wins
      std::optional<FirmwareDmaLimit> limit;
      if (fw.iort) {
        // acpi_arch_dma_setup: on an ACPI host the IORT is read when no _DMA applies.
        limit = iort_limit(*fw.iort, device, reader);
      } else if (std::optional<std::string> start = dt_start(device, reader)) {
        limit = dt_limit(dt_nodes, *start);
      }
      if (!limit) continue;
      if (!limit->last) notes.push_back({group.id, "device " + device.name + ": " + limit->detail});
      device.firmware_dma_limit = std::move(limit);
    }
  }
  return notes;
}

}  // namespace iovamap
