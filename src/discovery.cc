#include "iovamap/discovery.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <map>
#include <tuple>

#include "iommu_driver_registry.h"
#include "iovamap/kernel_cmdline.h"
#include "iovamap/msi.h"

namespace iovamap {

namespace {

constexpr std::string_view kGroupsDir = "sys/kernel/iommu_groups";
constexpr std::string_view kIommuClassDir = "sys/class/iommu";
constexpr std::string_view kOsRelease = "proc/sys/kernel/osrelease";
constexpr std::string_view kCmdline = "proc/cmdline";
constexpr std::string_view kMemmapDir = "sys/firmware/memmap";
constexpr std::string_view kDmaEntryLimit =
    "sys/module/vfio_iommu_type1/parameters/dma_entry_limit";
constexpr std::string_view kDmaEntryLimitOption = "vfio_iommu_type1.dma_entry_limit";
constexpr std::string_view kType1Unsafe =
    "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts";
constexpr std::string_view kType1UnsafeOption = "vfio_iommu_type1.allow_unsafe_interrupts";
constexpr std::string_view kIommufdUnsafe = "sys/module/iommufd/parameters/allow_unsafe_interrupts";
constexpr std::string_view kIommufdUnsafeOption = "iommufd.allow_unsafe_interrupts";
constexpr std::string_view kIrqDir = "sys/kernel/irq";

std::string join(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty()) out += '/';
  out += name;
  return out;
}

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// Optional reads: a missing file (ENOENT) is "not there", anything else is an error.
Result<std::optional<std::string>> read_optional(SysfsReader& reader, const std::string& path) {
  Result<std::string> text = reader.read_file(path);
  if (text) return std::optional<std::string>(std::move(*text));
  if (text.error().code == ENOENT) return std::optional<std::string>();
  return text.error();
}

Result<std::optional<std::string>> link_optional(SysfsReader& reader, const std::string& path) {
  Result<std::string> text = reader.read_link(path);
  if (text) return std::optional<std::string>(std::move(*text));
  if (text.error().code == ENOENT) return std::optional<std::string>();
  return text.error();
}

// Reads an optional number file into `out` (left empty when the file is missing).
template <class T>
Status read_number(SysfsReader& reader, const std::string& path, std::optional<T>* out,
                   uint64_t max) {
  IOVAMAP_ASSIGN_OR_RETURN(std::optional<std::string> text, read_optional(reader, path));
  if (!text) return {};
  IOVAMAP_ASSIGN_OR_RETURN(uint64_t v, parse_sysfs_number(*text, reader.display(path)));
  if (v > max)
    return make_error(EINVAL, reader.display(path) + ":1: value " + hex(v) + " out of range");
  *out = static_cast<T>(v);
  return {};
}

// The last `vfio_iommu_type1.dma_entry_limit=N` of the command line (modprobe passes such
// options to the module when it loads it), or nullopt. A value the kernel refuses (not a
// number, or above 32 bits: a module then fails to load, a built-in one keeps its default)
// is ignored with a warning.
std::optional<uint32_t> cmdline_dma_entry_limit(std::string_view cmdline, const std::string& file,
                                                std::vector<std::string>* warnings) {
  std::optional<uint32_t> limit;
  for (const CmdlineParam& p : cmdline_params(cmdline, kDmaEntryLimitOption)) {
    std::optional<uint32_t> v = p.value ? parse_kernel_uint(*p.value) : std::nullopt;
    if (!v) {
      warnings->push_back(file + ": '" + std::string(p.word) + "' is not a 32-bit number, ignored");
      continue;
    }
    limit = *v;
  }
  return limit;
}

// A bool module parameter: the loaded module's file (param_get_bool prints "Y" or "N"), else
// the command line's last setting of `option` (a bare name means true: kernel/params.c,
// param_set_bool). A bad file is an error naming it; a bad command-line value is ignored with a
// warning, as the kernel ignores it.
Result<std::optional<bool>> read_bool_param(SysfsReader& reader, std::string_view path,
                                            std::string_view option, std::string_view cmdline,
                                            std::vector<std::string>* warnings) {
  IOVAMAP_ASSIGN_OR_RETURN(std::optional<std::string> text,
                           read_optional(reader, std::string(path)));
  if (text) {
    std::string_view t = strip_newline(*text);
    std::optional<bool> v = parse_kernel_bool(t);
    if (!v)
      return make_error(EINVAL, reader.display(path) + ":1: expected Y or N, got '" +
                                    std::string(t.substr(0, 40)) + "'");
    return v;
  }
  std::optional<bool> value;
  for (const CmdlineParam& p : cmdline_params(cmdline, option)) {
    std::optional<bool> v = p.value ? parse_kernel_bool(*p.value) : std::optional<bool>(true);
    if (!v) {
      warnings->push_back(reader.display(kCmdline) + ": '" + std::string(p.word) +
                          "' is not a boolean, ignored");
      continue;
    }
    value = v;
  }
  return value;
}

// The irq numbers listed in `dir` (sys/kernel/irq, or a device's msi_irqs), in numeric order;
// empty when the directory is missing.
Result<std::vector<uint32_t>> irq_numbers(SysfsReader& reader, const std::string& dir) {
  std::vector<uint32_t> out;
  Result<std::vector<std::string>> names = reader.list_dir(dir);
  if (!names) {
    if (names.error().code == ENOENT) return out;
    return names.error();
  }
  for (const std::string& name : *names) {
    uint32_t n = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), n);
    if (ec == std::errc() && end == name.data() + name.size()) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// What the chips of `irqs` say about MSI isolation (see msi.h): the first chip that isolates
// (or, for `any_unsafe_decides`, the first that does not, when there is one), naming its file.
Result<std::optional<MsiEvidence>> msi_evidence(SysfsReader& reader,
                                                const std::vector<uint32_t>& irqs,
                                                bool any_unsafe_decides) {
  std::optional<MsiEvidence> yes, no;
  for (uint32_t irq : irqs) {
    std::string path = join(join(kIrqDir, std::to_string(irq)), "chip_name");
    IOVAMAP_ASSIGN_OR_RETURN(std::optional<std::string> name, read_optional(reader, path));
    if (!name) continue;
    std::string chip(strip_newline(*name));
    MsiChipClass c = classify_irq_chip(chip);
    if (c == MsiChipClass::kSilent) continue;
    MsiEvidence e{c == MsiChipClass::kIsolating, reader.display(path) + ": '" + chip + "'"};
    std::optional<MsiEvidence>& slot = e.isolated ? yes : no;
    if (!slot) slot = e;
  }
  if (any_unsafe_decides) return no ? no : yes;
  return yes ? yes : no;
}

// Where a link in sysfs points, as a root-relative path; `path` itself when it is a real
// directory (some hand-made snapshots copy class directories).
Result<std::string> follow(SysfsReader& reader, const std::string& path) {
  Result<std::string> text = reader.read_link(path);
  if (text) return resolve_link_text(path, *text);
  if (text.error().code == EINVAL) return path;
  return text.error();
}

// The unit `name` of /sys/class/iommu: its driver (the first in the registry that recognises
// its directory), then the driver's registers from their files below the directory (each file
// read once; a missing one leaves its facts unknown), then its settings from the command line.
Result<IommuUnit> read_unit(SysfsReader& reader, const std::string& name, KernelVersion kernel,
                            std::string_view cmdline) {
  IommuUnit unit;
  unit.name = name;
  IOVAMAP_ASSIGN_OR_RETURN(std::string dir, follow(reader, join(kIommuClassDir, name)));
  // A unit directory with nothing discovery reads (an SMMU's) is empty in a snapshot, and an
  // empty directory does not survive git or some archivers: a missing one is an empty one.
  Result<std::vector<std::string>> entries = reader.list_dir(dir);
  if (!entries && entries.error().code != ENOENT) return entries.error();
  const detail::IommuDriverModel& driver = detail::detect_driver(
      detail::UnitDirectory{.name = name,
                            .entries = entries ? std::move(*entries) : std::vector<std::string>{},
                            .canonical = dir});
  unit.driver = std::string(driver.name());
  std::map<std::string_view, std::optional<std::string>> files;
  for (const detail::UnitFact& fact : driver.facts()) {
    if (fact.sysfs_file.empty()) continue;
    // A name starting with '/' is a file of the host (a firmware table), not of the unit.
    const std::string path = fact.sysfs_file.front() == '/' ? std::string(fact.sysfs_file.substr(1))
                                                            : join(dir, fact.sysfs_file);
    auto file = files.find(fact.sysfs_file);
    if (file == files.end()) {
      Result<std::optional<std::string>> text = read_optional(reader, path);
      // Firmware tables are readable by root only: unreadable, the facts stay unknown.
      if (!text && fact.sysfs_file.front() == '/' &&
          (text.error().code == EACCES || text.error().code == EPERM)) {
        text = std::optional<std::string>();
      }
      if (!text) return text.error();
      file = files.emplace(fact.sysfs_file, std::move(*text)).first;
    }
    if (!file->second) continue;
    IOVAMAP_ASSIGN_OR_RETURN(std::optional<uint64_t> value,
                             fact.parse_sysfs(*file->second, reader.display(path), kernel));
    if (value) detail::fact_store(unit, fact)[std::string(fact.key)] = *value;
  }
  driver.apply_cmdline(cmdline, &unit);
  return unit;
}

Result<Device> read_device(SysfsReader& reader, const std::string& group_devices,
                           const std::string& name) {
  Device dev;
  dev.name = name;
  dev.is_pci = is_pci_address(name);
  IOVAMAP_ASSIGN_OR_RETURN(std::string dir, follow(reader, join(group_devices, name)));
  dev.sysfs_path = dir;
  if (dev.is_pci) {
    std::optional<uint16_t> vendor, device_id;
    std::optional<uint32_t> class_code;
    IOVAMAP_RETURN_IF_ERROR(read_number(reader, join(dir, "vendor"), &vendor, 0xffff));
    IOVAMAP_RETURN_IF_ERROR(read_number(reader, join(dir, "device"), &device_id, 0xffff));
    IOVAMAP_RETURN_IF_ERROR(read_number(reader, join(dir, "class"), &class_code, 0xffffff));
    dev.vendor = vendor.value_or(0);
    dev.device_id = device_id.value_or(0);
    dev.class_code = class_code.value_or(0);
  }
  IOVAMAP_RETURN_IF_ERROR(read_number(reader, join(dir, "dma_mask_bits"), &dev.dma_mask_bits, 64));
  IOVAMAP_RETURN_IF_ERROR(
      read_number(reader, join(dir, "consistent_dma_mask_bits"), &dev.coherent_dma_mask_bits, 64));
  IOVAMAP_ASSIGN_OR_RETURN(std::optional<std::string> driver,
                           link_optional(reader, join(dir, "driver")));
  if (driver) dev.driver = std::string(base_name(*driver));
  IOVAMAP_ASSIGN_OR_RETURN(std::optional<std::string> iommu,
                           link_optional(reader, join(dir, "iommu")));
  if (iommu) dev.iommu = std::string(base_name(*iommu));
  // The device's own MSI vectors (present while its driver has MSIs enabled): one vector that
  // is not isolated decides.
  IOVAMAP_ASSIGN_OR_RETURN(std::vector<uint32_t> vectors,
                           irq_numbers(reader, join(dir, "msi_irqs")));
  IOVAMAP_ASSIGN_OR_RETURN(dev.msi, msi_evidence(reader, vectors, true));
  return dev;
}

Result<Group> read_group(SysfsReader& reader, uint32_t id) {
  Group group;
  group.id = id;
  std::string dir = join(kGroupsDir, std::to_string(id));
  IOVAMAP_ASSIGN_OR_RETURN(std::optional<std::string> type,
                           read_optional(reader, join(dir, "type")));
  if (type) {
    group.type = std::string(strip_newline(*type));
  }
  std::string regions_path = join(dir, "reserved_regions");
  IOVAMAP_ASSIGN_OR_RETURN(std::optional<std::string> regions, read_optional(reader, regions_path));
  if (regions) {
    IOVAMAP_ASSIGN_OR_RETURN(group.observed_regions,
                             parse_sysfs_regions(*regions, reader.display(regions_path)));
  }
  std::string devices = join(dir, "devices");
  IOVAMAP_ASSIGN_OR_RETURN(std::vector<std::string> names, reader.list_dir(devices));
  for (const std::string& name : names) {  // sorted: PCI address order
    IOVAMAP_ASSIGN_OR_RETURN(Device dev, read_device(reader, devices, name));
    group.devices.push_back(std::move(dev));
  }
  return group;
}

}  // namespace

bool is_pci_address(std::string_view name) {
  // DDDD:BB:DD.F
  if (name.size() != 12 || name[4] != ':' || name[7] != ':' || name[10] != '.') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (!is_hex_digit(name[i])) return false;
  return name[11] >= '0' && name[11] <= '7';
}

Result<uint64_t> parse_sysfs_number(std::string_view text, const std::string& file, bool bare_hex) {
  std::string_view t = strip_newline(text);
  int base = 10;
  if (bare_hex) {
    base = 16;
  } else if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    base = 16;
    t.remove_prefix(2);
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value, base);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) {
    std::string shown(text.substr(0, 40));
    for (char& c : shown)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return make_error(EINVAL, file + ":1: expected a " +
                                  (base == 16 ? std::string("hex") : std::string("decimal")) +
                                  " number, got '" + shown + "'");
  }
  return value;
}

namespace {

// `ivrs_ioapic` words as drivers/iommu/amd/init.c parse_ivrs_ioapic reads them (6.12 and
// mainline): "=ID@BUS:DEV.FN", "=ID@SEG:BUS:DEV.FN", and the older "[ID]=BUS:DEV.FN",
// "[ID]=SEG:BUS:DEV.FN" (hex but the decimal id); the fields are masked as IVRS_GET_SBDF_ID
// masks them; at most EARLY_MAP_SIZE (4) words are kept, and for one id the first wins
// (add_special_device). A word of another shape is ignored, as the kernel ignores it.
std::map<uint32_t, uint32_t> cmdline_ivrs_ioapic(std::string_view cmdline) {
  std::map<uint32_t, uint32_t> out;
  int kept = 0;
  for (std::string_view word : cmdline_words(cmdline)) {
    constexpr std::string_view kName = "ivrs_ioapic";
    if (word.substr(0, kName.size()) != kName) continue;
    std::string rest(word.substr(kName.size()));
    int id = 0;
    unsigned seg = 0, bus = 0, dev = 0, fn = 0;
    bool ok = std::sscanf(rest.c_str(), "=%d@%x:%x.%x", &id, &bus, &dev, &fn) == 4 ||
              std::sscanf(rest.c_str(), "=%d@%x:%x:%x.%x", &id, &seg, &bus, &dev, &fn) == 5 ||
              std::sscanf(rest.c_str(), "[%d]=%x:%x.%x", &id, &bus, &dev, &fn) == 4 ||
              std::sscanf(rest.c_str(), "[%d]=%x:%x:%x.%x", &id, &seg, &bus, &dev, &fn) == 5;
    if (!ok || kept == 4) continue;
    ++kept;
    uint32_t sbdf = ((seg & 0xffff) << 16) | ((bus & 0xff) << 8) | ((dev & 0x1f) << 3) | (fn & 7);
    // The kernel keeps the id as a u8 (struct devid_map).
    out.emplace(static_cast<uint32_t>(id) & 0xff, sbdf);
  }
  return out;
}

}  // namespace

Result<Discovery> discover(SysfsReader& reader, std::string source) {
  Discovery out;
  out.host.source = std::move(source);

  IOVAMAP_ASSIGN_OR_RETURN(std::optional<std::string> release,
                           read_optional(reader, std::string(kOsRelease)));
  if (release) {
    std::string_view text = strip_newline(*release);
    Result<KernelVersion> version = KernelVersion::parse(text);
    if (!version) return version.error().with_context(reader.display(kOsRelease) + ":1");
    out.host.kernel = *version;
  } else {
    out.warnings.push_back(reader.display(kOsRelease) + " missing: kernel " +
                           out.host.kernel.to_string() + " assumed");
  }

  IOVAMAP_ASSIGN_OR_RETURN(const std::optional<std::string> cmdline_file,
                           read_optional(reader, std::string(kCmdline)));
  const std::string_view cmdline = cmdline_file ? std::string_view(*cmdline_file) : "";

  Result<std::vector<std::string>> units = reader.list_dir(kIommuClassDir);
  if (!units && units.error().code != ENOENT) return units.error();
  if (units) {
    for (const std::string& name : *units) {
      IOVAMAP_ASSIGN_OR_RETURN(IommuUnit unit, read_unit(reader, name, out.host.kernel, cmdline));
      out.host.iommus.push_back(std::move(unit));
    }
  }

  // The type1 mapping budget: the loaded module's parameter, else the command line's.
  IOVAMAP_RETURN_IF_ERROR(
      read_number(reader, std::string(kDmaEntryLimit), &out.host.dma_entry_limit, UINT32_MAX));
  if (!out.host.dma_entry_limit)
    out.host.dma_entry_limit =
        cmdline_dma_entry_limit(cmdline, reader.display(kCmdline), &out.warnings);

  // Unsafe interrupts: each module's parameter, else the command line's.
  for (auto [path, option, field] :
       {std::tuple{kType1Unsafe, kType1UnsafeOption, &out.host.type1_allow_unsafe_interrupts},
        std::tuple{kIommufdUnsafe, kIommufdUnsafeOption,
                   &out.host.iommufd_allow_unsafe_interrupts}}) {
    IOVAMAP_ASSIGN_OR_RETURN(*field, read_bool_param(reader, path, option, cmdline, &out.warnings));
  }

  // The AMD driver's IO-APIC map from the command line (msi.h, amd_intremap_check).
  out.host.amd_ivrs_ioapic = cmdline_ivrs_ioapic(cmdline);

  // MSI isolation host-wide: the interrupt chips in use. One that isolates shows interrupt
  // remapping (or an ITS) is on, which covers every device.
  IOVAMAP_ASSIGN_OR_RETURN(std::vector<uint32_t> irqs, irq_numbers(reader, std::string(kIrqDir)));
  IOVAMAP_ASSIGN_OR_RETURN(out.host.msi, msi_evidence(reader, irqs, false));

  // RAM: the firmware memory map the kernel exports (drivers/firmware/memmap.c), one directory
  // per entry with start, end (inclusive) and type.
  Result<std::vector<std::string>> memmap = reader.list_dir(kMemmapDir);
  if (!memmap && memmap.error().code != ENOENT) return memmap.error();
  if (memmap) {
    for (const std::string& entry : *memmap) {
      std::string dir = join(kMemmapDir, entry);
      IOVAMAP_ASSIGN_OR_RETURN(std::optional<std::string> type,
                               read_optional(reader, join(dir, "type")));
      if (!type || *type != "System RAM\n") continue;
      std::optional<uint64_t> end;
      IOVAMAP_RETURN_IF_ERROR(read_number(reader, join(dir, "end"), &end, kMaxAddress));
      if (end && (!out.host.ram_top || *end > *out.host.ram_top)) out.host.ram_top = *end;
    }
  }

  Result<std::vector<std::string>> groups = reader.list_dir(kGroupsDir);
  if (!groups && groups.error().code != ENOENT) return groups.error();
  std::vector<uint32_t> ids;
  if (groups) {
    for (const std::string& name : *groups) {
      uint32_t id = 0;
      auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
      // The kernel names a group's directory by its number in decimal ("%d"); anything else
      // ("007", "x") is not one of its groups.
      if (ec != std::errc() || end != name.data() + name.size() || std::to_string(id) != name) {
        out.warnings.push_back(reader.display(join(kGroupsDir, name)) +
                               ": not a group number as the kernel writes it, ignored");
        continue;
      }
      ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  for (uint32_t id : ids) {
    IOVAMAP_ASSIGN_OR_RETURN(Group group, read_group(reader, id));
    out.host.groups.push_back(std::move(group));
  }
  return out;
}

}  // namespace iovamap
