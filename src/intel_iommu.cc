// The Intel VT-d driver (drivers/iommu/intel/): how discovery recognises its units, the
// registers it reads (cap, ecap) and the setting it takes from the command line
// (intel_iommu=sm_on|sm_off), its reserved regions, and the paging domain VFIO gets. See
// iommu_driver_registry.h for the shape and docs/kernel-rules.md ("Intel VT-d") for the rules.
// Kernel: drivers/iommu/intel/iommu.c, iommu.h and dmar.c in 5.10, 6.1, 6.12 and mainline.

#include <algorithm>
#include <bit>
#include <string>

#include "iommu_driver_registry.h"

namespace iovamap {
namespace {

// Releases where a rule changed (docs/kernel-rules.md, "Intel VT-d").
// 5.15: the page-size bitmap became the real one (4 KiB plus super pages) instead of "every
// power of two from 4 KiB"; unmanaged domains stopped using first-stage tables when a unit
// supports both stages ("Report real pgsize bitmap to iommu core" and the
// first_level_by_default(type) change, both 2021).
constexpr KernelVersion kRealPgsizes{5, 15};
constexpr KernelVersion kSecondStageForUnmanaged{5, 15};
// 6.13: domain_alloc_paging: per-unit paging_domain_alloc; first-stage again whenever the
// unit is in scalable mode with first-stage support; super pages from fls(SLLPS) unmasked.
constexpr KernelVersion kPagingDomainAlloc{6, 13};

constexpr uint64_t kSz4K = uint64_t{1} << 12;
constexpr uint64_t kSz2M = uint64_t{1} << 21;
constexpr uint64_t kSz1G = uint64_t{1} << 30;

// The kernel's fls(): 1-based index of the highest set bit, 0 for 0.
int fls(unsigned value) {
  return value == 0 ? 0 : std::bit_width(value);
}

// domain_super_pgsize_bitmap: level 1 is 2 MiB, level 2 adds 1 GiB, anything else adds nothing.
uint64_t super_page_bits(int level) {
  if (level == 1) return kSz2M;
  if (level == 2) return kSz2M | kSz1G;
  return 0;
}

std::string stage_name(bool first_stage) {
  return first_stage ? "first-stage" : "second-stage";
}

}  // namespace

IntelCap decode_intel_cap(uint64_t cap) {
  IntelCap c;
  c.mgaw = static_cast<unsigned>((cap >> 16) & 0x3f) + 1;
  c.sagaw = static_cast<unsigned>((cap >> 8) & 0x1f);
  c.sllps = static_cast<unsigned>((cap >> 34) & 0xf);
  c.fl1gp = ((cap >> 56) & 1) != 0;
  c.fl5lp = ((cap >> 60) & 1) != 0;
  return c;
}

IntelEcap decode_intel_ecap(uint64_t ecap) {
  IntelEcap e;
  e.smts = ((ecap >> 43) & 1) != 0;
  e.slts = ((ecap >> 46) & 1) != 0;
  e.flts = ((ecap >> 47) & 1) != 0;
  return e;
}

Result<IntelPagingDomain> intel_paging_domain(uint64_t cap, uint64_t ecap, bool scalable_mode,
                                              KernelVersion kernel) {
  const IntelCap c = decode_intel_cap(cap);
  const IntelEcap e = decode_intel_ecap(ecap);
  // sm_supported(): the kernel setting and the unit's SMTS bit.
  const bool sm = scalable_mode && e.smts;

  IntelPagingDomain d;
  // Which table format a VFIO (unmanaged) domain gets: first_level_by_default() in 5.10 (no
  // type argument), 5.15-6.12 (type-aware: unmanaged prefers second-stage), 6.13+ (per unit).
  if (kernel < kSecondStageForUnmanaged) {
    d.first_stage = sm && e.flts;
  } else if (kernel < kPagingDomainAlloc) {
    d.first_stage = sm && e.flts && !e.slts;
  } else {
    d.first_stage = sm && (e.flts == e.slts ? true : e.flts);
  }
  if (d.first_stage && !e.flts) {
    // paging_domain_compatible() refuses a first-stage domain on a unit without FLTS.
    return make_error(ENODEV,
                      "scalable mode without first- or second-stage support: the "
                      "kernel cannot attach a paging domain");
  }

  // __iommu_calculate_sagaw(): second-stage widths unless the unit runs scalable mode with
  // first-stage support; first-stage widths are 48 bits, plus 57 with 5-level paging.
  const unsigned fl_sagaw = (1u << 2) | (c.fl5lp ? (1u << 3) : 0u);
  unsigned sagaw = c.sagaw;
  if (sm && e.flts) sagaw = e.slts ? (fl_sagaw & c.sagaw) : fl_sagaw;
  // __iommu_calculate_agaw(iommu, 57): the largest supported agaw not above width_to_agaw(57).
  d.agaw = -1;
  for (int agaw = 3; agaw >= 0; --agaw) {
    if ((sagaw >> agaw) & 1u) {
      d.agaw = agaw;
      break;
    }
  }
  if (d.agaw < 0) {
    return make_error(ENODEV, "no supported address width (SAGAW " + hex(c.sagaw) +
                                  "): the kernel ignores this unit");
  }
  // prepare_domain_attach_device (<= 6.12) / paging_domain_alloc (6.13+): the domain width is
  // the unit's agaw width capped by MGAW; domain_update_iommu_cap / paging_domain_alloc then
  // set the aperture, one bit lower for first-stage (canonical addresses).
  d.width = std::min(30u + 9u * static_cast<unsigned>(d.agaw), c.mgaw);
  d.aperture = detail::low_bits_range(d.first_stage ? d.width - 1 : d.width);

  if (kernel < kRealPgsizes) {
    d.page_sizes = ~uint64_t{0xfff};  // INTEL_IOMMU_PGSIZES: every size from 4 KiB
  } else {
    int level;
    if (d.first_stage) {
      level = c.fl1gp ? 2 : 1;
    } else if (kernel < kPagingDomainAlloc) {
      level = fls(c.sllps & 0x3u);  // domain_update_iommu_superpage starts from mask 0x3
    } else {
      level = fls(c.sllps);  // iommu_superpage_capability: fls of all four SLLPS bits
    }
    d.page_sizes = kSz4K | super_page_bits(level);
  }
  return d;
}

Result<uint64_t> parse_intel_register(std::string_view text, const std::string& file_name) {
  Result<uint64_t> value = detail::parse_bare_hex(strip_newline(text), "register");
  if (!value) return value.error().with_context(file_name);
  return value;
}

namespace detail {
namespace {

// The unit's facts (IommuUnit::registers / ::settings keys).
constexpr std::string_view kCap = "cap";
constexpr std::string_view kEcap = "ecap";
constexpr std::string_view kScalableMode = "scalable-mode";

Result<std::optional<uint64_t>> parse_register_file(std::string_view text,
                                                    const std::string& file_name,
                                                    KernelVersion /*kernel*/) {
  IOVAMAP_ASSIGN_OR_RETURN(uint64_t value, parse_intel_register(text, file_name));
  return std::optional<uint64_t>(value);
}

// intel_iommu_setup (drivers/iommu/intel/iommu.c): sm_on and sm_off set intel_iommu_sm.
constexpr CmdlineChoice kScalableModeChoices[] = {{"sm_on", 1}, {"sm_off", 0}};

constexpr UnitFact kFacts[] = {
    {.store = FactStore::kRegister,
     .key = kCap,
     .topology_key = "intel-cap",
     .meaning = "the VT-d capability register (MGAW, SAGAW, super pages); without it the "
                "aperture and page sizes are unknown",
     .sysfs_file = "intel-iommu/cap",
     .parse_sysfs = parse_register_file},
    {.store = FactStore::kRegister,
     .key = kEcap,
     .topology_key = "intel-ecap",
     .meaning = "the VT-d extended capability register (scalable mode, first- and second-stage "
                "support); unknown: the legacy second-stage answer",
     .sysfs_file = "intel-iommu/ecap",
     .parse_sysfs = parse_register_file},
    {.store = FactStore::kSetting,
     .key = kScalableMode,
     .topology_key = "intel-scalable-mode",
     .type = FactType::kBool,
     .meaning = "the kernel's scalable-mode setting (intel_iommu_sm); default on, as Debian "
                "builds it (CONFIG_INTEL_IOMMU_SCALABLE_MODE_DEFAULT_ON)",
     .cmdline_param = "intel_iommu",
     .cmdline_choices = kScalableModeChoices},
};

// IS_USB_DEVICE / IS_GFX_DEVICE in intel/iommu.c: PCI class 0x0c03xx or base class 0x03.
bool rmrr_is_relaxable(const Device& device) {
  return device.is_pci && ((device.class_code >> 8) == 0x0c03 || (device.class_code >> 16) == 0x03);
}

// PCI_CLASS_BRIDGE_ISA: class 0x0601xx.
bool is_isa_bridge(const Device& device) {
  return device.is_pci && (device.class_code >> 8) == 0x0601;
}

Result<IntelPagingDomain> unit_domain(const IommuUnit& unit, KernelVersion kernel) {
  const std::optional<uint64_t> cap = unit.reg(kCap);
  if (!cap) {
    return make_error(ENODATA, "intel unit " + unit.name +
                                   ": no cap register (intel-iommu/cap) to derive the paging "
                                   "domain from; declare address_bits or aperture");
  }
  // No ecap: no scalable-mode facts, so the legacy (second-stage) answer.
  Result<IntelPagingDomain> d = intel_paging_domain(
      *cap, unit.reg(kEcap).value_or(0), unit.setting(kScalableMode).value_or(1) != 0, kernel);
  if (!d) return d.error().with_context("intel unit " + unit.name);
  return d;
}

class IntelIommu final : public IommuDriverModel {
 public:
  std::string_view name() const override { return "intel"; }

  // The driver registers each unit with its "intel-iommu" attribute group (intel_iommu_groups
  // in drivers/iommu/intel/iommu.c), so the unit's directory holds an intel-iommu/ directory.
  bool detects(const UnitDirectory& unit) const override { return unit.has("intel-iommu"); }
  UnitDirectory example_directory() const override {
    return {.name = "dmar0",
            .entries = {"devices", "intel-iommu", "power", "subsystem", "uevent"},
            .canonical = "sys/devices/virtual/iommu/dmar0"};
  }

  std::span<const UnitFact> facts() const override { return kFacts; }
  DriverTraits traits() const override { return {}; }

  // intel_iommu_get_resv_regions (same order in 5.10, 6.1, 6.12, mainline): every RMRR whose
  // device scope holds the device or a bridge above it, typed by device_rmrr_is_relaxable; with
  // CONFIG_INTEL_IOMMU_FLOPPY_WA (def_bool y on x86) [0, 16 MiB) for an ISA bridge; then the
  // IOAPIC window as MSI.
  std::vector<ReservedRegion> device_regions(const IommuUnit& /*unit*/, const Device& device,
                                             KernelVersion /*kernel*/) const override {
    std::vector<ReservedRegion> out;
    const RegionType rmrr_type =
        rmrr_is_relaxable(device) ? RegionType::kDirectRelaxable : RegionType::kDirect;
    for (const ReservedRegion& rmrr : device.firmware_regions)
      out.push_back(firmware_region(rmrr, rmrr_type, "RMRR"));
    if (is_isa_bridge(device)) {
      out.push_back(driver_region(Range{0, 0xffffff}, RegionType::kDirectRelaxable,
                                  "intel-iommu floppy workaround (ISA bridge)"));
    }
    out.push_back(driver_region(kX86MsiWindow, RegionType::kMsi, "intel-iommu IOAPIC/MSI window"));
    return out;
  }

  Result<Aperture> paging_aperture(const IommuUnit& unit, KernelVersion kernel) const override {
    IOVAMAP_ASSIGN_OR_RETURN(IntelPagingDomain d, unit_domain(unit, kernel));
    const IntelCap c = decode_intel_cap(*unit.reg(kCap));
    std::string detail = unit.name + ": cap MGAW " + std::to_string(c.mgaw) + " bits, agaw " +
                         std::to_string(30 + 9 * d.agaw) + " (" + stage_name(d.first_stage) + ")";
    if (!unit.reg(kEcap)) detail += ", ecap unknown";
    return Aperture{d.aperture, true, Provenance{Origin::kAperture, detail}};
  }

  Result<uint64_t> page_sizes(const IommuUnit& unit, KernelVersion kernel) const override {
    IOVAMAP_ASSIGN_OR_RETURN(IntelPagingDomain d, unit_domain(unit, kernel));
    return d.page_sizes;
  }
};

}  // namespace

const IommuDriverModel& intel_iommu() {
  static const IntelIommu model;
  return model;
}

}  // namespace detail
}  // namespace iovamap
