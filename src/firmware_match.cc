// Firmware table entries matched to devices (firmware_match.h). Every rule below is the
// kernel's, read in Debian's linux-source-6.12 (6.12.95) and cited by file and function; the
// IORT RMR rules read again in a 6.13+ tree (unchanged).
#include "iovamap/firmware_match.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace iovamap {
namespace {

constexpr uint64_t kPage = 4096;

// One PCI function on the way from a root bus down to a device.
struct PciLink {
  uint32_t segment = 0;
  uint8_t bus = 0;
  uint8_t device = 0;
  uint8_t function = 0;
  std::string name;  // "0000:00:1c.0"
};

std::optional<PciLink> parse_pci_name(std::string_view name) {
  // SSSS:BB:DD.F, the segment 4 or more hex digits (VMD domains have 5).
  unsigned seg = 0, bus = 0, dev = 0, fn = 0;
  int used = 0;
  std::string text(name);
  if (std::sscanf(text.c_str(), "%x:%2x:%2x.%1u%n", &seg, &bus, &dev, &fn, &used) != 4 ||
      used != static_cast<int>(text.size()) || dev > 31 || fn > 7 || text.find(':') < 4)
    return std::nullopt;
  return PciLink{seg, static_cast<uint8_t>(bus), static_cast<uint8_t>(dev),
                 static_cast<uint8_t>(fn), text};
}

// The PCI functions from the device's root bus down to the device itself, from its canonical
// sysfs directory: the components after the last root-bus directory ("pci0000:00", or a VMD
// domain's "pci10000:e0") that are PCI addresses. This is the chain the kernel walks through
// `bus->self` (intel/dmar.c dmar_alloc_pci_notify_info). Without a sysfs path, the device alone.
std::vector<PciLink> pci_chain(const Device& device) {
  std::vector<PciLink> chain;
  std::string_view path = device.sysfs_path;
  size_t pos = 0;
  while (pos <= path.size() && !path.empty()) {
    size_t slash = path.find('/', pos);
    std::string_view part =
        path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (part.size() > 3 && part.substr(0, 3) == "pci" && !parse_pci_name(part)) {
      chain.clear();  // a root bus: the chain starts again below it
    } else if (std::optional<PciLink> link = parse_pci_name(part)) {
      chain.push_back(*link);
    }
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  if (chain.empty() || chain.back().name != device.name) {
    chain.clear();
    if (std::optional<PciLink> self = parse_pci_name(device.name)) chain.push_back(*self);
  }
  return chain;
}

// The unit driver of the device, by its registered name; "" when the unit is unknown.
std::string_view unit_driver(const Host& host, const Group& group, const Device& device) {
  const IommuUnit* unit =
      device.iommu.empty() ? host.iommu_of(group) : host.find_iommu(device.iommu);
  return unit ? driver_name(unit->driver) : std::string_view();
}

// ---- Intel: DMAR RMRR ---------------------------------------------------------------------

enum class ScopeOutcome { kNone, kMatch, kMismatch };
struct ScopeResult {
  ScopeOutcome outcome = ScopeOutcome::kNone;
  const DmarScope* scope = nullptr;
  bool workaround = false;  // matched by the broken-RMRR fallback
};

// dmar_match_pci_path (intel/dmar.c): the scope's start bus must be the chain's root bus and
// its (device, function) steps the chain's, one for one; failing that, a one-step scope
// matches a device whose own bus and devfn it names (the "RMRR entry ... is broken" fallback).
bool path_matches(const DmarScope& s, const std::vector<PciLink>& chain, size_t depth,
                  bool* workaround) {
  *workaround = false;
  if (s.start_bus == chain[0].bus && s.path.size() == depth) {
    bool same = true;
    for (size_t i = 0; i < depth && same; ++i)
      same = s.path[i].device == chain[i].device && s.path[i].function == chain[i].function;
    if (same) return true;
  }
  if (s.path.size() != 1) return false;
  const PciLink& self = chain[depth - 1];
  if (s.start_bus == self.bus && s.path[0].device == self.device &&
      s.path[0].function == self.function) {
    *workaround = true;
    return true;
  }
  return false;
}

// dmar_insert_dev_scope (intel/dmar.c) for the function chain[depth - 1]: another segment
// never matches; only endpoint and bridge scopes are looked at, in order; the first whose path
// matches decides: a type that does not fit the function's header (an endpoint scope naming a
// bridge; a bridge scope naming a normal-header function that is not of the bridge class) is
// -EINVAL ("Device scope type does not match"), else the function takes a slot of the entry.
ScopeResult insert_dev_scope(const std::vector<DmarScope>& scopes, uint16_t segment,
                             const std::vector<PciLink>& chain, size_t depth, bool normal_header,
                             uint32_t class_code) {
  if (chain[depth - 1].segment != segment) return {};
  for (const DmarScope& s : scopes) {
    if (s.type != static_cast<uint8_t>(DmarScopeType::kEndpoint) &&
        s.type != static_cast<uint8_t>(DmarScopeType::kBridge))
      continue;
    bool workaround = false;
    if (!path_matches(s, chain, depth, &workaround)) continue;
    bool endpoint = s.type == static_cast<uint8_t>(DmarScopeType::kEndpoint);
    if ((endpoint && !normal_header) || (!endpoint && normal_header && (class_code >> 16) != 0x06))
      return {ScopeOutcome::kMismatch, &s, workaround};
    return {ScopeOutcome::kMatch, &s, workaround};
  }
  return {};
}

// A device function's header type, as far as sysfs tells: PCI-to-PCI (0x0604), semi-transparent
// (0x0609) and CardBus (0x0607) bridges have bridge headers; every function with functions below
// it in the chain is a bridge.
bool has_normal_header(uint32_t class_code) {
  uint32_t sub = class_code >> 8;
  return sub != 0x0604 && sub != 0x0609 && sub != 0x0607;
}

struct RmrrSlot {
  const DmarScope* scope = nullptr;
  bool workaround = false;
};

// The RMRR slots the function chain[depth - 1] fills, indexed by RMRR, as
// dmar_pci_bus_add_dev (intel/dmar.c) and dmar_iommu_notify_scope_dev (intel/iommu.c) fill
// them when the function is added: first the DRHDs not covering all PCI devices (units are
// listed newest first, dmar_register_drhd_unit), stopping at the first matching one; a
// mismatch there skips the RMRRs altogether. Then the RMRRs in their list order (newest
// first: dmar_parse_one_rmrr adds at the head), where a mismatch stops the walk.
std::vector<std::optional<RmrrSlot>> rmrr_slots(const Dmar& dmar, const std::vector<PciLink>& chain,
                                                size_t depth, bool normal_header,
                                                uint32_t class_code) {
  std::vector<std::optional<RmrrSlot>> slots(dmar.rmrrs.size());
  // dmar_alloc_pci_notify_info ignores functions whose domain does not fit 16 bits (VMD).
  if (chain[depth - 1].segment > 0xffff) return slots;
  for (auto it = dmar.drhds.rbegin(); it != dmar.drhds.rend(); ++it) {
    if (it->include_pci_all()) continue;
    ScopeResult r =
        insert_dev_scope(it->scopes, it->segment, chain, depth, normal_header, class_code);
    if (r.outcome == ScopeOutcome::kMismatch) return slots;
    if (r.outcome == ScopeOutcome::kMatch) break;
  }
  for (size_t k = dmar.rmrrs.size(); k-- > 0;) {
    const DmarRmrr& rmrr = dmar.rmrrs[k];
    ScopeResult r =
        insert_dev_scope(rmrr.scopes, rmrr.segment, chain, depth, normal_header, class_code);
    if (r.outcome == ScopeOutcome::kMismatch) break;
    if (r.outcome == ScopeOutcome::kMatch) slots[k] = RmrrSlot{r.scope, r.workaround};
  }
  return slots;
}

void match_dmar(const Dmar& dmar, const Group& group, Device& device,
                std::vector<FirmwareMatchNote>& notes) {
  if (!device.is_pci || dmar.rmrrs.empty()) return;
  const std::vector<PciLink> chain = pci_chain(device);
  if (chain.empty()) return;
  // Per function of the chain (the bridges above the device, then the device), its slots.
  std::vector<std::vector<std::optional<RmrrSlot>>> held;
  for (size_t depth = 1; depth <= chain.size(); ++depth) {
    bool self = depth == chain.size();
    held.push_back(rmrr_slots(dmar, chain, depth,
                              self ? has_normal_header(device.class_code) : false,
                              self ? device.class_code : 0x060400));
  }
  // intel_iommu_get_resv_regions (intel/iommu.c): for each RMRR in list order, each filled slot
  // that is the device or a bridge it sits below (is_downstream_to_pci_bridge: the device's bus
  // within the bridge's secondary..subordinate range, which for a bridge above it in the same
  // segment always holds) gives [base, end], of length end - base + 1.
  for (size_t k = dmar.rmrrs.size(); k-- > 0;) {
    const DmarRmrr& rmrr = dmar.rmrrs[k];
    for (size_t i = 0; i < chain.size(); ++i) {
      const std::optional<RmrrSlot>& slot = held[i][k];
      if (!slot) continue;
      if (rmrr.end_limit < rmrr.base) {
        notes.push_back({group.id, "DMAR RMRR " + std::to_string(k) + " ends below its base; " +
                                       "its region for " + device.name + " is not modelled"});
        continue;
      }
      std::string detail = "DMAR RMRR " + std::to_string(k) + ", scope " + slot->scope->to_string();
      if (i + 1 < chain.size()) detail += " (bridge " + chain[i].name + " above the device)";
      if (slot->workaround) detail += " (the kernel's broken-RMRR workaround)";
      if (!rmrr.sane()) detail += " (fails the kernel's RMRR sanity check; used anyway)";
      device.firmware_regions.push_back(
          ReservedRegion::make(Range{rmrr.base, rmrr.end_limit}, RegionType::kDirect,
                               Provenance{Origin::kFirmware, std::move(detail)}));
    }
  }
}

// ---- AMD: IVRS IVMD -----------------------------------------------------------------------

// get_highest_supported_ivhd_type (amd/init.c): walking the structures from the first while
// their type is at most 40h, the type of the last one whose device id equals the first's.
// Structures this parser does not decode have no device id here: taken as different.
uint8_t target_ivhd_type(const Ivrs& ivrs) {
  struct Item {
    size_t offset;
    uint8_t type;
    std::optional<uint16_t> devid;
  };
  std::vector<Item> items;
  for (const IvrsIvhd& h : ivrs.ivhds) items.push_back({h.offset, h.type, h.device_id});
  for (const IvrsIvmd& m : ivrs.ivmds) items.push_back({m.offset, m.type, m.device_id});
  for (const IvrsOther& o : ivrs.others) items.push_back({o.offset, o.type, std::nullopt});
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.offset < b.offset; });
  if (items.empty()) return 0;
  uint8_t last = items[0].type;
  const std::optional<uint16_t> first = items[0].devid;
  for (const Item& it : items) {
    if (it.type > 0x40) break;
    if (it.devid && it.devid == first) last = it.type;
  }
  return last;
}

// pci_seg->last_bdf (amd/init.c find_last_devid_acpi, find_last_devid_from_ivhd): over the
// IVHDs of the target type in the segment, the highest device id of a select, range-end,
// alias-select or extended-select entry; an "all" entry makes it ffff.
uint16_t last_bdf(const Ivrs& ivrs, uint16_t segment) {
  const uint8_t target = target_ivhd_type(ivrs);
  int last = 0;
  for (const IvrsIvhd& h : ivrs.ivhds) {
    if (h.pci_segment != segment || h.type != target) continue;
    for (const IvrsDeviceEntry& e : h.entries) {
      if (e.type == 0x01) return 0xffff;
      if (e.type == 0x02 || e.type == 0x04 || e.type == 0x42 || e.type == 0x46)
        last = std::max<int>(last, e.device_id);
    }
  }
  return static_cast<uint16_t>(last);
}

void match_ivrs(const Ivrs& ivrs, const Group& group, Device& device,
                std::vector<FirmwareMatchNote>& notes) {
  if (!device.is_pci || ivrs.ivmds.empty()) return;
  std::optional<PciLink> self = parse_pci_name(device.name);
  if (!self) return;
  // amd_iommu_get_resv_regions (amd/iommu.c): the device's own id (get_device_sbdf_id: bus and
  // devfn, no alias) against each unity-map entry of its IOMMU's segment, in the order
  // init_memory_definitions (amd/init.c) appended them: table order.
  const uint16_t devid = static_cast<uint16_t>(self->bus << 8 | self->device << 3 | self->function);
  for (const IvrsIvmd& m : ivrs.ivmds) {
    // init_memory_definitions takes entries with the unity or the exclusion flag;
    // init_unity_map_range knows types 20h, 21h, 22h.
    if (!m.unity() && !m.exclusion()) continue;
    if (m.type != 0x20 && m.type != 0x21 && m.type != 0x22) continue;
    if (m.pci_segment != self->segment) continue;
    // init_unity_map_range: 21h one id, 22h [devid, aux], 20h [0, the segment's last_bdf].
    const uint16_t first = m.type == 0x20 ? 0 : m.device_id;
    const uint16_t last = m.type == 0x20   ? last_bdf(ivrs, m.pci_segment)
                          : m.type == 0x22 ? m.aux
                                           : m.device_id;
    if (devid < first || devid > last) continue;
    // The start is page-aligned up and the length page-aligned up separately (address_end =
    // start + PAGE_ALIGN(length)), all in 64-bit arithmetic; exclusion ranges are given
    // read/write unity-map permissions, so get_resv_regions never sees the exclusion flag and
    // every entry is a DIRECT region.
    const uint64_t start = (m.start + kPage - 1) & ~(kPage - 1);
    const uint64_t length = (m.length + kPage - 1) & ~(kPage - 1);
    if (length == 0 || start + length - 1 < start) {
      notes.push_back({group.id, m.describe() + ": its region for " + device.name +
                                     " is empty or wraps past 2^64; not modelled"});
      continue;
    }
    std::string detail =
        m.describe() +
        (m.exclusion() ? " (exclusion range, mapped 1:1 by the kernel)" : " (unity map)");
    if (m.type != 0x21) detail += ", device " + ivrs_device_id_string(devid);
    device.firmware_regions.push_back(
        ReservedRegion::make(Range{start, start + length - 1}, RegionType::kDirect,
                             Provenance{Origin::kFirmware, std::move(detail)}));
  }
}

// ---- Arm: IORT RMR ------------------------------------------------------------------------

// The region the kernel makes of one RMR descriptor (iort.c iort_rmr_alloc): as given when base
// and length are both 64 KiB aligned; otherwise (logged as a firmware bug) the base rounded
// down to its page and the length, plus the base's offset in that page, rounded up to pages,
// all in 64-bit arithmetic. Unset when the result is empty or wraps: not modelled.
std::optional<Range> rmr_region(const IortRmrRange& r, bool* widened) {
  constexpr uint64_t k64K = 0x10000;
  uint64_t start = r.base, size = r.length;
  *widened = (start % k64K) != 0 || (size % k64K) != 0;
  if (*widened) {
    start = r.base & ~(kPage - 1);
    size = (size + (r.base & (kPage - 1)) + kPage - 1) & ~(kPage - 1);
  }
  if (size == 0 || start + (size - 1) < start) return std::nullopt;
  return Range{start, start + size - 1};
}

void match_iort(const Iort& iort, const FirmwareMatchOptions& options, const Group& group,
                Device& device, std::vector<FirmwareMatchNote>& notes) {
  if (!device.is_pci) return;
  std::optional<PciLink> self = parse_pci_name(device.name);
  if (!self) return;
  // The device's stream id and SMMU (iort_iommu_configure_id, iort_pci_iommu_init): its
  // requester id through its segment's root complex node, followed to an SMMU node.
  const IortNode* rc = iort.root_complex(self->segment);
  if (!rc) return;
  const uint32_t rid = uint32_t{self->bus} << 8 | uint32_t{self->device} << 3 | self->function;
  constexpr uint32_t kSmmuTypes = 1u << static_cast<uint8_t>(IortNodeType::kSmmuV1V2) |
                                  1u << static_cast<uint8_t>(IortNodeType::kSmmuV3);
  Result<IortMapped> mapped = iort_map_id(iort, rc->index, rid, kSmmuTypes);
  if (!mapped) return;
  const IortNode& smmu = iort.nodes[mapped->node];
  if (smmu.type >= 32 || ((kSmmuTypes >> smmu.type) & 1) == 0) return;
  const uint32_t stream = mapped->id;
  // iort_find_rmrs walks the RMR nodes in table order; iort_node_get_rmr_info takes a node when
  // one of its ID mappings names the device's SMMU node itself (no walk) and iort_rmr_has_dev
  // finds the stream id in [output base, output base + id count], the sum in 32 bits; for a PCI
  // device only when its host bridge preserves the boot configuration (preserve_config). Every
  // descriptor of a node taken is a region, in order (iort_get_rmrs).
  for (const IortNode& n : iort.nodes) {
    if (n.type != static_cast<uint8_t>(IortNodeType::kRmr) || !n.rmr_ignored.empty()) continue;
    bool covered = false;
    for (const IortIdMapping& m : n.mappings) {
      if (m.output_reference != smmu.offset) continue;
      const uint32_t last = m.output_base + m.id_count;  // wraps as the kernel's u32 sum does
      if (stream >= m.output_base && stream <= last) covered = true;
    }
    if (!covered) continue;
    const std::string entry = "IORT RMR node " + std::to_string(n.index) + " at " + hex(n.offset);
    if (options.pci_boot_config_preserved == false) continue;
    if (!options.pci_boot_config_preserved) {
      notes.push_back({group.id, entry + " covers stream " + hex(stream) + " of " + device.name +
                                     ", but the kernel gives its ranges to a PCI device only "
                                     "when the host bridge's _DSM says the boot configuration "
                                     "is preserved, unknown here (--pci-boot-config): not "
                                     "modelled as regions"});
      continue;
    }
    const RegionType type =
        n.rmr_remapping_permitted() ? RegionType::kDirectRelaxable : RegionType::kDirect;
    for (size_t i = 0; i < n.rmr_ranges.size(); ++i) {
      const std::string what = entry + ", range " + std::to_string(i);
      bool widened = false;
      std::optional<Range> range = rmr_region(n.rmr_ranges[i], &widened);
      if (!range) {
        notes.push_back({group.id, what + " is empty or wraps past 2^64: its region for " +
                                       device.name + " is not modelled"});
        continue;
      }
      std::string detail = what + ", stream " + hex(stream);
      if (widened) detail += " (not 64 KiB aligned: widened to 4 KiB pages by the kernel)";
      device.firmware_regions.push_back(
          ReservedRegion::make(*range, type, Provenance{Origin::kFirmware, std::move(detail)}));
    }
  }
}

}  // namespace

std::vector<FirmwareMatchNote> match_firmware_regions(Host& host,
                                                      const FirmwareMatchOptions& options) {
  std::vector<FirmwareMatchNote> notes;
  const Firmware& fw = host.firmware;
  if (!fw.dmar && !fw.ivrs && !fw.iort) return notes;
  for (Group& group : host.groups) {
    for (Device& device : group.devices) {
      std::string_view driver = unit_driver(host, group, device);
      if (driver == "intel" && fw.dmar) match_dmar(*fw.dmar, group, device, notes);
      if (driver == "amd" && fw.ivrs) match_ivrs(*fw.ivrs, group, device, notes);
      // arm_smmu_get_resv_regions (arm-smmu-v3.c, arm-smmu.c) through
      // iommu_dma_get_resv_regions to iort_iommu_get_resv_regions (acpi/arm64/iort.c).
      // RMR nodes are read from 6.0 on (iort_iommu_rmr_get_resv_regions came then).
      if ((driver == "arm-smmu-v3" || driver == "arm-smmu") && fw.iort &&
          host.kernel >= KernelVersion{6, 0})
        match_iort(*fw.iort, options, group, device, notes);
    }
  }
  return notes;
}

}  // namespace iovamap
