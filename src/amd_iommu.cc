// The AMD-Vi driver (drivers/iommu/amd/): how discovery recognises its units, the registers it
// reads (the capability header, EFR and EFR2) and the setting it takes from the command line
// (amd_iommu=pgtbl_v1|pgtbl_v2), its reserved regions, and the paging domain VFIO gets. See
// iommu_driver_registry.h for the shape and docs/kernel-rules.md ("AMD-Vi") for the rules.
// Kernel: drivers/iommu/amd/iommu.c, init.c and amd_iommu_types.h in 5.10, 6.1, 6.12 and
// mainline.

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "amd_iommu.h"
#include "iommu_driver_registry.h"
#include "iovamap/acpi_ivrs.h"

namespace iovamap {
namespace {

// Releases where a rule changed (docs/kernel-rules.md, "AMD-Vi").
// 6.1: amd_iommu=pgtbl_v2 exists (v2 tables for DMA-API and VFIO domains). Verified present in
// 6.1, absent in 5.10.
constexpr KernelVersion kV2PageTable{6, 1};
// v1 page sizes limited to 52 bits (GENMASK_ULL(51, 12) ^ SZ_512G) and the v2 aperture one
// bit lower (sign-extension note in dma_max_address): both seen in 6.12, not in 6.1; the exact
// release in between is not verified, modelled as 6.12.
constexpr KernelVersion kPgsizes52Bits{6, 12};
constexpr KernelVersion kV2ApertureChopped{6, 12};
// 6.16: "iommu/amd: Add support for HTRangeIgnore feature": no HyperTransport hole when EFR2
// bit 11 is set.
constexpr KernelVersion kHtRangeIgnore{6, 16};
// 6.17: "iommu/amd: Add efr[HATS] max v1 page table level": the v1 aperture is
// PM_LEVEL_SIZE(HATS + 4) instead of the whole space (applied with the 6.17 iommu changes;
// seen in mainline, not in 6.12). early_amd_iommu_init takes HATS, and decides the v2
// fallback, from the global EFR as it stands before PCI init: the IVHD 11h/40h EFR image when
// the IVRS IVinfo has EFRSup (early_iommu_features_init), else 0, so 4 levels. The MMIO EFR
// that sysfs shows is read later (late_iommu_features_init). Lab: Debian 6.18.15 under QEMU
// 7.2 (IVHD 10h only) answers [0, 2^48 - 1] while sysfs shows HATS 2.
constexpr KernelVersion kHatsLevels{6, 17};
// 6.19: "iommu/amd: Use the generic iommu page table" (in linux-next for the 6.19 merge window,
// November 2025): v1 domains come from the generic page-table code (pt_iommu_amdv1_init, in
// amd_iommu_domain_alloc_paging_v1), whose page sizes follow the table format and the VA width
// (generic_v1_page_sizes). Dated, not seen in a lab kernel (6.18 has io_pgtable, 7.3 the rule
// below too).
constexpr KernelVersion kGenericPageTable{6, 19};
// 7.2: "iommu_pt: Fix pgsize_bitmap calculation in get_info for smaller vasz's" (merged into
// mainline on 2026-06-17 with the 7.2 iommu updates): get_info hides every size of half the VA
// space or more. Verified by Debian 7.3.4 under QEMU 7.2 (4 levels: 0x7f7ffffff000).
constexpr KernelVersion kPgsizeBelowHalfVa{7, 2};
// 7.2: "iommu/amd: Adhere to IVINFO[VASIZE] for address limits" (the same merge):
// early_amd_iommu_init takes the IVRS IVinfo VASize (bits 21:15; 0: no limit) as
// amd_iommu_hpt_vasize, and a v1 domain's VA width is the smaller of it and the table's
// (amd_iommu_domain_alloc_paging_v1): both the aperture and the page sizes narrow. Dated, not
// seen in a lab kernel (QEMU's IVinfo leaves VASize 0).
constexpr KernelVersion kIvinfoVaSize{7, 2};

// The unit's facts (IommuUnit::registers / ::settings keys).
constexpr std::string_view kCap = "cap";
constexpr std::string_view kEfr = "efr";
constexpr std::string_view kEfr2 = "efr2";
constexpr std::string_view kPgtblV2 = "pgtbl-v2";
constexpr std::string_view kEarlyEfr = "early-efr";
constexpr std::string_view kIvinfoVasize = "ivinfo-vasize";

constexpr uint64_t kFeatureGt = uint64_t{1} << 4;         // EFR GTSup
constexpr uint64_t kFeatureGioSup = uint64_t{1} << 48;    // EFR GIoSup
constexpr uint64_t kFeatureHtIgnore = uint64_t{1} << 11;  // EFR2 HTRangeIgnore

// AMD_IOMMU_PGSIZES before and after the 52-bit limit; AMD_IOMMU_PGSIZES_V2.
constexpr uint64_t kPgsizesV1Old = ~uint64_t{0xfff} & ~(uint64_t{2} << 38);
constexpr uint64_t kPgsizesV1 =
    (((uint64_t{1} << 52) - 1) & ~uint64_t{0xfff}) ^ (uint64_t{1} << 39);
constexpr uint64_t kPgsizesV2 = (uint64_t{1} << 12) | (uint64_t{1} << 21) | (uint64_t{1} << 30);

// The v1 page sizes of the generic page table (6.19+) for a table of `levels` levels, in its
// own words:
// - the VA width is min(64, 9 * levels + 12) bits (amd_iommu_domain_alloc_paging_v1 sets
//   hw_max_vasz_lg2 to (levels - 1) * 9 + 21, capped at 64; from 7.2 a non-zero IVinfo VASize
//   caps it too, kIvinfoVaSize);
// - the domain may grow up to that width (PT_FEAT_DYNAMIC_TOP), so get_info (generic_pt/
//   iommu_pt.h) takes every level whose entries cover less than the VA width, and at each the
//   sizes amdv1pt_possible_sizes (generic_pt/fmt/amdv1.h) allows: an entry's own size 2^s
//   (s = 12 + 9 * level) up to 2^min(51, s + 8) (a run of up to 256 entries), never 512 GiB
//   (bit 39, a hardware erratum), and none at level 5 (the top of a 6-level table);
// - from 7.2 get_info keeps only sizes below 2^(width - 1) (a page may not span the whole
//   table), and always below 2^52 (the output address width);
// - the driver then narrows by amd_iommu_pgsize_bitmap (the default keeps all of these).
// 3 levels: 0x7ffffff000 (7.2+: 0x3ffffff000); 4 levels: 0xff7ffffff000 (7.2+:
// 0x7f7ffffff000); 5 and 6 levels: 0xfff7ffffff000, the 6.12 bitmap.
// The VA width of a v1 domain of `levels` levels: min(64, 9 * levels + 12), and from 7.2 no
// more than a non-zero IVinfo VASize (kIvinfoVaSize).
unsigned v1_va_bits(unsigned levels, KernelVersion kernel, unsigned ivinfo_va_size) {
  unsigned bits = std::min(64u, 9 * levels + 12);
  if (kernel >= kIvinfoVaSize && ivinfo_va_size != 0) bits = std::min(bits, ivinfo_va_size);
  return bits;
}

uint64_t generic_v1_page_sizes(unsigned levels, KernelVersion kernel, unsigned ivinfo_va_size) {
  const unsigned va_bits = v1_va_bits(levels, kernel, ivinfo_va_size);
  uint64_t sizes = 0;
  for (unsigned level = 0; level < 5; ++level) {
    const unsigned entry_bits = 12 + 9 * level;
    if (entry_bits >= va_bits) break;
    const unsigned top_bits = std::min(51u, entry_bits + 8);
    sizes |= ((uint64_t{2} << top_bits) - 1) & ~((uint64_t{1} << entry_bits) - 1);
  }
  sizes &= ~(uint64_t{1} << 39);
  if (kernel >= kPgsizeBelowHalfVa) sizes &= (uint64_t{1} << (va_bits - 1)) - 1;
  sizes &= (uint64_t{1} << 52) - 1;
  return sizes & kPgsizesV1;
}

// The unit's IVinfo VASize, 0 (no limit) when unknown.
unsigned ivinfo_va_size(const IommuUnit& unit) {
  return static_cast<unsigned>(unit.setting(kIvinfoVasize).value_or(0));
}

// The page table a paging domain on this unit uses.
struct Tables {
  bool v2 = false;
  unsigned host_levels = 6;  // v1 levels the kernel allows (amd_iommu_hpt_level), 6.17+
};

// v2 when requested on the command line, known in this kernel, and honoured: init falls back to
// v1 without EFR GTSup and GIoSup ("Cannot enable v2 page table for DMA-API"). From 6.17 the
// v1 depth is EFR HATS + 4 levels, and HATS = 3 disables v1 altogether (amd_iommu_hatdis): v2
// if the unit has it, else no DMA translation (ENODEV); both decisions read the EFR taken from
// the IVRS at early init (kHatsLevels), and the sysfs EFR only when the IVRS is unknown.
// ENODATA when the answer depends on an unknown EFR.
Result<Tables> tables(const IommuUnit& unit, KernelVersion kernel) {
  const bool want_v2 = unit.setting(kPgtblV2).value_or(0) != 0 && kernel >= kV2PageTable;
  const bool hats_matters = kernel >= kHatsLevels;
  std::optional<uint64_t> known_efr = unit.reg(kEfr);
  if (hats_matters && unit.setting(kEarlyEfr)) known_efr = unit.setting(kEarlyEfr);
  if ((want_v2 || hats_matters) && !known_efr) {
    return make_error(ENODATA, "amd unit " + unit.name +
                                   ": the extended features (amd-iommu/features) are unknown, "
                                   "and the page table depends on them in kernel " +
                                   kernel.to_string());
  }
  const uint64_t efr = known_efr.value_or(0);
  const bool v2_ok = (efr & kFeatureGt) != 0 && (efr & kFeatureGioSup) != 0;
  Tables t;
  const unsigned hats = static_cast<unsigned>((efr >> 10) & 3);
  if (hats_matters && hats == 3) {
    if (!v2_ok) {
      return make_error(ENODEV, "amd unit " + unit.name +
                                    ": EFR HATS is 3 (host translation disabled) and v2 tables "
                                    "are unsupported: no DMA translation");
    }
    t.v2 = true;
    return t;
  }
  if (hats_matters) t.host_levels = hats + 4;
  t.v2 = want_v2 && v2_ok;
  return t;
}

Result<uint64_t> parse_field(std::string_view digits, const std::string& file_name,
                             const char* what) {
  Result<uint64_t> v = detail::parse_bare_hex(digits, what);
  if (!v) return v.error().with_context(file_name);
  return v;
}

}  // namespace

Result<uint32_t> parse_amd_cap(std::string_view text, const std::string& file_name) {
  IOVAMAP_ASSIGN_OR_RETURN(uint64_t v,
                           parse_field(strip_newline(text), file_name, "capability header"));
  if (v > 0xffffffffu)
    return make_error(EINVAL, file_name + ": capability header " + hex(v) + " exceeds 32 bits");
  return static_cast<uint32_t>(v);
}

Result<AmdFeatures> parse_amd_features(std::string_view text, const std::string& file_name,
                                       KernelVersion kernel) {
  const std::string_view body = strip_newline(text);
  const size_t colon = body.find(':');
  AmdFeatures f;
  if (kernel < kAmdFeaturesEfr2First) {
    if (colon != std::string_view::npos) {
      return make_error(EINVAL, file_name + ": kernel " + kernel.to_string() +
                                    " prints the EFR alone, got two fields");
    }
    IOVAMAP_ASSIGN_OR_RETURN(f.efr, parse_field(body, file_name, "EFR"));
    return f;
  }
  if (colon == std::string_view::npos) {
    return make_error(EINVAL, file_name + ": kernel " + kernel.to_string() +
                                  " prints two fields separated by ':', got one");
  }
  IOVAMAP_ASSIGN_OR_RETURN(uint64_t first,
                           parse_field(body.substr(0, colon), file_name, "first field"));
  IOVAMAP_ASSIGN_OR_RETURN(uint64_t second,
                           parse_field(body.substr(colon + 1), file_name, "second field"));
  if (kernel < kAmdFeaturesEfrFirst) {
    f.efr2 = first;  // "%llx:%llx", features2, features
    f.efr = second;
  } else {
    f.efr = first;  // "%llx:%llx", amd_iommu_efr, amd_iommu_efr2
    f.efr2 = second;
  }
  return f;
}

namespace detail {

uint64_t amd_generic_v1_page_sizes(unsigned levels, KernelVersion kernel, unsigned ivinfo_va_size) {
  return generic_v1_page_sizes(levels, kernel, ivinfo_va_size);
}

namespace {

Result<std::optional<uint64_t>> parse_cap_file(std::string_view text, const std::string& file_name,
                                               KernelVersion /*kernel*/) {
  IOVAMAP_ASSIGN_OR_RETURN(uint32_t cap, parse_amd_cap(text, file_name));
  return std::optional<uint64_t>(cap);
}

Result<std::optional<uint64_t>> parse_efr(std::string_view text, const std::string& file_name,
                                          KernelVersion kernel) {
  IOVAMAP_ASSIGN_OR_RETURN(AmdFeatures f, parse_amd_features(text, file_name, kernel));
  return std::optional<uint64_t>(f.efr);
}

// The global EFR early_amd_iommu_init sees (drivers/iommu/amd/init.c): the IVHD blocks of the
// target type (get_highest_supported_ivhd_type: the last of types 10h, 11h, 40h among the
// blocks of the first block's device id) each give their EFR image (offset 24) when IVinfo
// (offset 36) has EFRSup (bit 0) and the type is 11h or 40h (early_iommu_features_init),
// else 0; get_global_efr ANDs the units. A table the kernel rejects (bad checksum) or that
// runs past its end is an error naming the offset.
Result<std::optional<uint64_t>> parse_ivrs_early_efr(std::string_view t, const std::string& file,
                                                     KernelVersion /*kernel*/) {
  // The table through the IVRS parser (acpi_ivrs.h), which refuses what the driver refuses.
  Result<Ivrs> ivrs = parse_ivrs(t);
  if (!ivrs) return make_error(EINVAL, file + ": " + ivrs.error().message);
  if (ivrs->ivhds.empty()) return std::optional<uint64_t>();
  // The driver uses the highest IVHD type given for the first IOMMU's device id, and ANDs the
  // EFR images of every IVHD of that type (0 without EFRSup, and for type 10h).
  uint8_t target = ivrs->ivhds.front().type;
  for (const IvrsIvhd& h : ivrs->ivhds)
    if (h.device_id == ivrs->ivhds.front().device_id) target = h.type;
  std::optional<uint64_t> global;
  for (const IvrsIvhd& h : ivrs->ivhds) {
    if (h.type != target) continue;
    const uint64_t efr = ivrs->efr_supported() && h.efr ? *h.efr : 0;
    global = global ? *global & efr : efr;
  }
  return global;
}

// IVinfo VASize (bits 21:15 of offset 36), which 7.2 and later take as the v1 VA limit.
Result<std::optional<uint64_t>> parse_ivrs_va_size(std::string_view t, const std::string& file,
                                                   KernelVersion /*kernel*/) {
  Result<Ivrs> ivrs = parse_ivrs(t);
  if (!ivrs) return make_error(EINVAL, file + ": " + ivrs.error().message);
  return std::optional<uint64_t>(ivrs->va_size());
}

Result<std::optional<uint64_t>> parse_efr2(std::string_view text, const std::string& file_name,
                                           KernelVersion kernel) {
  IOVAMAP_ASSIGN_OR_RETURN(AmdFeatures f, parse_amd_features(text, file_name, kernel));
  return f.efr2;
}

// parse_amd_iommu_options (drivers/iommu/amd/init.c): pgtbl_v1 and pgtbl_v2 set
// amd_iommu_pgtable (6.1 and later; older kernels ignore them, see tables()).
constexpr CmdlineChoice kPgtblChoices[] = {{"pgtbl_v1", 0}, {"pgtbl_v2", 1}};

constexpr UnitFact kFacts[] = {
    {.store = FactStore::kRegister,
     .key = kCap,
     .topology_key = "amd-cap",
     .max = 0xffffffff,
     .meaning = "the IOMMU capability header (32 bits); kept, not used by the model",
     .sysfs_file = "amd-iommu/cap",
     .parse_sysfs = parse_cap_file},
    {.store = FactStore::kRegister,
     .key = kEfr,
     .topology_key = "amd-efr",
     .meaning = "the extended feature register (GTSup, GIoSup, HATS): v2 tables, and from 6.17 "
                "the v1 depth, depend on it",
     .sysfs_file = "amd-iommu/features",
     .parse_sysfs = parse_efr},
    {.store = FactStore::kRegister,
     .key = kEfr2,
     .topology_key = "amd-efr2",
     .meaning = "the second extended feature register (HTRangeIgnore: no HyperTransport hole "
                "from 6.16); unknown: the hole stays",
     .sysfs_file = "amd-iommu/features",
     .parse_sysfs = parse_efr2},
    {.store = FactStore::kSetting,
     .key = kPgtblV2,
     .topology_key = "amd-pgtbl-v2",
     .type = FactType::kBool,
     .meaning = "v2 page tables for DMA and VFIO domains (6.1 and later, and only when EFR has "
                "GTSup and GIoSup); default off (v1 tables)",
     .cmdline_param = "amd_iommu",
     .cmdline_choices = kPgtblChoices},
    {.store = FactStore::kSetting,
     .key = kEarlyEfr,
     .topology_key = "amd-early-efr",
     .meaning = "the EFR the driver takes from the ACPI IVRS before it reads the registers (the "
                "IVHD 11h/40h EFR image when IVinfo has EFRSup, else 0, as with QEMU's IVHD "
                "10h): from 6.17 the v1 depth (HATS) and the v2 fallback follow it; unknown: "
                "taken as the `amd-efr`",
     .sysfs_file = "/sys/firmware/acpi/tables/IVRS",
     .parse_sysfs = parse_ivrs_early_efr},
    {.store = FactStore::kSetting,
     .key = kIvinfoVasize,
     .topology_key = "amd-ivinfo-vasize",
     .max = 127,
     .meaning = "the IVRS IVinfo VASize (0: no limit): from 7.2 the v1 VA width, and so the "
                "aperture and page sizes, is at most this many bits",
     .sysfs_file = "/sys/firmware/acpi/tables/IVRS",
     .parse_sysfs = parse_ivrs_va_size},
};

class AmdIommu final : public IommuDriverModel {
 public:
  std::string_view name() const override { return "amd"; }

  // The driver registers each unit with its "amd-iommu" attribute group (amd_iommu_groups in
  // drivers/iommu/amd/init.c), so the unit's directory holds an amd-iommu/ directory.
  bool detects(const UnitDirectory& unit) const override { return unit.has("amd-iommu"); }
  UnitDirectory example_directory() const override {
    return {.name = "ivhd0",
            .entries = {"amd-iommu", "devices", "power", "subsystem", "uevent"},
            .canonical = "sys/devices/pci0000:00/0000:00:00.2/iommu/ivhd0"};
  }

  std::span<const UnitFact> facts() const override { return kFacts; }
  DriverTraits traits() const override { return {}; }

  // amd_iommu_get_resv_regions (same order in 5.10, 6.1, 6.12, mainline): the IVMD unity maps
  // covering the device (init_unity_map_range gives exclusion ranges read/write unity-map
  // permissions, so the EXCL_RANGE test never fires and every one of them is DIRECT), the MSI
  // window, then the HyperTransport hole [0xfd00000000, 0xffffffffff] as RESERVED, which 6.16+
  // leaves out when amd_iommu_ht_range_ignore() (EFR2 bit 11).
  std::vector<ReservedRegion> device_regions(const IommuUnit& unit, const Device& device,
                                             KernelVersion kernel) const override {
    std::vector<ReservedRegion> out;
    for (const ReservedRegion& ivmd : device.firmware_regions)
      out.push_back(firmware_region(ivmd, RegionType::kDirect, "IVMD unity map"));
    out.push_back(driver_region(kX86MsiWindow, RegionType::kMsi, "amd-iommu MSI window"));
    const std::optional<uint64_t> efr2 = unit.reg(kEfr2);
    const bool ht_ignored = kernel >= kHtRangeIgnore && efr2 && (*efr2 & kFeatureHtIgnore) != 0;
    if (!ht_ignored) {
      out.push_back(driver_region(Range{0xfd00000000, 0xffffffffff}, RegionType::kReserved,
                                  "amd-iommu HyperTransport hole"));
    }
    return out;
  }

  // The geometry set at domain allocation: [0, ~0] for v1 tables up to 6.16
  // (amd_iommu_domain_alloc in 5.10, dma_max_address in 6.1+), PM_LEVEL_SIZE(HATS + 4) from
  // 6.17 (4 levels: 2^48 - 1, 5: 2^57 - 1, 6: the whole space), HATS of the EFR taken from the
  // IVRS (tables()); v2 tables with 4 levels give
  // [0, 2^48 - 1] in 6.1 and [0, 2^47 - 1] in 6.12 (the top bit is dropped so the domain works
  // on PASID 0 and others alike). Five-level v2 tables need LA57 on the CPU, which sysfs does
  // not show: modelled as 4 levels.
  Result<Aperture> paging_aperture(const IommuUnit& unit, KernelVersion kernel) const override {
    IOVAMAP_ASSIGN_OR_RETURN(Tables t, tables(unit, kernel));
    if (!t.v2) {
      const unsigned levels = t.host_levels;
      const unsigned va_size = ivinfo_va_size(unit);
      const unsigned bits = v1_va_bits(levels, kernel, va_size);
      const Range range = bits >= 64 ? Range::all() : low_bits_range(bits);
      std::string why;
      if (kernel >= kHatsLevels) {
        why = unit.setting(kEarlyEfr) ? " (EFR HATS as the IVRS gives it at early init)"
                                      : " (EFR HATS from amd-iommu/features; IVRS unknown)";
      }
      if (bits < std::min(64u, 9 * levels + 12))
        why += ", " + std::to_string(bits) + " bits (IVRS IVinfo VASize)";
      return Aperture{range, true,
                      Provenance{Origin::kAperture, unit.name + ": v1 page table, " +
                                                        std::to_string(levels) + " levels" + why}};
    }
    const unsigned bits = kernel < kV2ApertureChopped ? 48 : 47;
    return Aperture{low_bits_range(bits), true,
                    Provenance{Origin::kAperture, unit.name + ": v2 page table, 4 levels, " +
                                                      std::to_string(bits) + " bits"}};
  }

  // pgsize_bitmap: AMD_IOMMU_PGSIZES for v1 (all sizes from 4 KiB but 512 GiB; from 6.12 only
  // below 2^52) up to 6.18, the generic page table's sizes for the v1 depth from 6.19
  // (generic_v1_page_sizes), AMD_IOMMU_PGSIZES_V2 for v2 (4 KiB, 2 MiB, 1 GiB: the x86 format
  // of the generic page table gives the same). The amd_iommu=nohugepages / v2_pgsizes_only
  // options (6.12) are not modelled.
  Result<uint64_t> page_sizes(const IommuUnit& unit, KernelVersion kernel) const override {
    IOVAMAP_ASSIGN_OR_RETURN(Tables t, tables(unit, kernel));
    if (t.v2) return kPgsizesV2;
    if (kernel >= kGenericPageTable)
      return generic_v1_page_sizes(t.host_levels, kernel, ivinfo_va_size(unit));
    return kernel < kPgsizes52Bits ? kPgsizesV1Old : kPgsizesV1;
  }
};

}  // namespace

const IommuDriverModel& amd_iommu() {
  static const AmdIommu model;
  return model;
}

}  // namespace detail
}  // namespace iovamap
