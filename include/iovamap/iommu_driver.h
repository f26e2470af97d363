// The IOMMU driver model: what each Linux IOMMU driver adds on its own.
//
// For one IOMMU unit and one device behind it, this answers the three questions whose answers
// live in the driver rather than in the IOMMU core:
//   - which reserved regions the driver's get_resv_regions callback returns for the device, in
//     the order it returns them (the core then inserts them one by one into the group list,
//     see RegionList);
//   - the aperture (struct iommu_domain_geometry) of a paging domain, the kind VFIO type1 and
//     iommufd allocate, including how it follows from the registers sysfs shows (Intel `cap`
//     and `ecap`);
//   - the page-size bitmap of that domain (VFIO's iova_pgsizes).
// Rules that changed between kernel releases take the KernelVersion; docs/kernel-rules.md lists
// every rule with the kernel function it comes from and the release where it changed. Each
// driver lives in one file behind a private registry (src/iommu_driver_registry.h), which also
// says which registers and settings (IommuUnit::registers, ::settings) each driver reads.
//
// Example (a QEMU intel-iommu with aw-bits=39, kernel 6.12):
//   IommuUnit unit{.name = "dmar0", .driver = "intel",
//                  .registers = {{"cap", 0xd2008c22260206}, {"ecap", 0xf00f4a}}};
//   paging_aperture(unit, {6, 12})->range;   // [0, 0x7fffffffff]
//   *page_sizes(unit, {6, 12});              // 0x40201000 (4 KiB, 2 MiB, 1 GiB)
//   Device isa{.name = "0000:00:1f.0", .class_code = 0x060100};
//   device_regions(unit, isa, {6, 12});      // [0, 0xffffff] direct-relaxable, MSI window
//
// Sharp edges:
//   - One unit at a time. Between 5.15 and 6.12 Intel computed super-page support as the
//     common denominator of all active units; with mixed units the real bitmap can be smaller.
//   - Firmware regions are taken from Device::firmware_regions as already matched to the
//     device (RMRR device scope, IVMD device range, IORT/DT node); no table is parsed here.
//   - ARM page sizes assume 4 KiB kernel pages (the io-pgtable granule follows PAGE_SIZE).
//   - virtio-iommu's input_range and page_size_mask are not in sysfs: declare them
//     (IommuUnit::aperture, page_sizes; the kernel logs both at probe) or get ENODATA for the
//     page sizes and the driver's default (the whole space) for the aperture.
//   - A unit whose `driver` names no driver is answered as a generic one (firmware regions
//     only, nothing derived).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/host.h"
#include "iovamap/range.h"
#include "iovamap/region.h"
#include "iovamap/result.h"

namespace iovamap {

// A paging domain's geometry (struct iommu_domain_geometry), with where it came from.
struct Aperture {
  Range range;            // [aperture_start, aperture_end]
  bool force = true;      // force_aperture
  Provenance provenance;  // Origin::kAperture; detail e.g. "dmar0: cap MGAW 39 bits, agaw 39
                          // (second-stage)"
};

// What the layers above the driver model need to know about a unit's driver, rather than
// testing its name.
struct DriverTraits {
  // The unit answers each endpoint's reserved regions itself (virtio-iommu's PROBE request):
  // the same answer for every device of a group, which sysfs shows only merged into the group's
  // reserved_regions. A live host's observed regions are then the model's input, not a
  // mismatch, and every device of the group carries them.
  bool regions_probed_per_endpoint = false;
  // The page sizes follow from what sysfs shows (or are fixed by the driver); false when only
  // a declaration (IommuUnit::page_sizes) gives them (virtio-iommu's page_size_mask, generic).
  bool page_sizes_from_sysfs = true;
};

// The traits of `unit`'s driver (the generic driver's for a name no driver has).
DriverTraits driver_traits(const IommuUnit& unit);

// The regions the driver's get_resv_regions callback returns for `device` behind `unit`, in the
// order the driver produces them (before the group-level insertion), including
// device.firmware_regions placed where that driver places firmware regions:
//   Intel:  RMRRs (typed direct, or direct-relaxable for USB and display devices), the floppy
//           workaround [0, 0xffffff] direct-relaxable for ISA bridges, then the MSI window;
//   AMD:    IVMD unity maps (always direct, exclusion ranges included), the MSI window, then the
//           HyperTransport hole (left out from 6.16 when EFR2 has HTRangeIgnore);
//   ARM:    the SW_MSI window [0x8000000, 0x80fffff], then IORT/DT regions as given;
//   virtio: PROBE regions (sorted by start from 5.17, reversed before), then SW_MSI when none
//           of them is an MSI region;
//   generic: the firmware regions as given.
// Provenance: Origin::kDriver for the driver's own windows, kFirmware for firmware ones (the
// given detail is kept). Never fails: every driver returns at least what it always adds.
std::vector<ReservedRegion> device_regions(const IommuUnit& unit, const Device& device,
                                           KernelVersion kernel);

// The aperture of a paging domain (what VFIO type1/iommufd allocate) on this unit. Uses
// unit.aperture / unit.address_bits when declared (aperture wins), else derives it from the
// registers and settings of the unit; ENODATA with a message naming the unit and the missing
// fact when it cannot be derived, ENODEV when the kernel gives the unit no paging domain (an
// Intel unit with no usable address width; an AMD unit with EFR HATS = 3 and no v2 tables,
// 6.17+), EINVAL for a declared address_bits outside 1..64.
Result<Aperture> paging_aperture(const IommuUnit& unit, KernelVersion kernel);

// The page-size bitmap of such a domain (what VFIO reports as iova_pgsizes for a container
// holding only this unit's groups). unit.page_sizes wins when declared. ENODATA when it cannot
// be derived (virtio-iommu and generic units without a declaration, Intel without `cap`).
Result<uint64_t> page_sizes(const IommuUnit& unit, KernelVersion kernel);

// ---- Intel VT-d -----------------------------------------------------------------------------

// The fields of the capability register the model uses (VT-d spec 11.4.2; the kernel's cap_*
// macros in drivers/iommu/intel/iommu.h).
struct IntelCap {
  unsigned mgaw = 0;   // maximum guest address width: bits 21:16, plus one
  unsigned sagaw = 0;  // supported adjusted guest address widths: bits 12:8; bit n = 30+9n bits
  unsigned sllps = 0;  // second-level large page support: bits 37:34 (bit 0 2 MiB, bit 1 1 GiB)
  bool fl1gp = false;  // first-level 1 GiB pages: bit 56
  bool fl5lp = false;  // first-level 5-level paging: bit 60
};
IntelCap decode_intel_cap(uint64_t cap);

// The fields of the extended capability register the model uses.
struct IntelEcap {
  bool smts = false;  // scalable mode translation: bit 43
  bool slts = false;  // second-level translation in scalable mode: bit 46
  bool flts = false;  // first-level translation in scalable mode: bit 47
};
IntelEcap decode_intel_ecap(uint64_t ecap);

// How the Intel driver builds a paging domain for VFIO on one unit.
struct IntelPagingDomain {
  bool first_stage = false;  // first-level (x86 format) tables instead of second-level
  int agaw = -1;             // the unit's agaw (iommu->agaw): 0..3 for 30..57 bits
  unsigned width = 0;        // the domain's address width (gaw): min(30 + 9 * agaw, MGAW)
  Range aperture;            // [0, 2^width - 1]; [0, 2^(width-1) - 1] for first-stage
  uint64_t page_sizes = 0;   // the domain's pgsize_bitmap
};

// The domain VFIO gets on a unit with these registers. `scalable_mode` is the kernel's
// intel_iommu_sm setting (the unit uses scalable mode when it is on and ecap.SMTS is set).
// ENODEV when no supported width exists (the kernel ignores such a unit: "No supported address
// widths" / "Cannot get a valid agaw").
// Kernel: drivers/iommu/intel/iommu.c, intel_iommu_domain_alloc + prepare_domain_attach_device
// + domain_update_iommu_cap up to 6.12, paging_domain_alloc from 6.13; the agaw comes from
// __iommu_calculate_agaw via dmar.c alloc_iommu.
Result<IntelPagingDomain> intel_paging_domain(uint64_t cap, uint64_t ecap, bool scalable_mode,
                                              KernelVersion kernel);

// Parses sysfs intel-iommu/cap or intel-iommu/ecap (IommuUnit::registers "cap", "ecap"): bare
// lower-case hex without 0x, as the kernel prints with "%llx\n" (a trailing newline is optional).
// Errors name `file_name`: "FILE: ...". A "0x" prefix, a sign, spaces or more than 16 digits are
// EINVAL.
Result<uint64_t> parse_intel_register(std::string_view text, const std::string& file_name);

// ---- AMD-Vi ---------------------------------------------------------------------------------

// Parses sysfs amd-iommu/cap (IommuUnit::registers "cap"): the 32-bit capability header as bare
// hex ("%x\n").
Result<uint32_t> parse_amd_cap(std::string_view text, const std::string& file_name);

// The extended feature registers as sysfs amd-iommu/features shows them (IommuUnit::registers
// "efr", "efr2").
struct AmdFeatures {
  uint64_t efr = 0;
  std::optional<uint64_t> efr2;  // absent before 6.0, whose file has EFR only
};

// Parses sysfs amd-iommu/features in the format `kernel` prints (drivers/iommu/amd/init.c,
// amd_iommu_show_features):
//   before 6.0:      "EFR\n"        (this unit's EFR)
//   6.0 up to 6.4:   "EFR2:EFR\n"   (this unit's registers)
//   from 6.5:        "EFR:EFR2\n"   (the common EFR/EFR2 of all units)
// The two two-field formats cannot be told apart from the text, hence the version. A text with
// the wrong number of fields for `kernel` is EINVAL naming `file_name`.
Result<AmdFeatures> parse_amd_features(std::string_view text, const std::string& file_name,
                                       KernelVersion kernel);

// The release where amd-iommu/features switched to each format (see parse_amd_features).
inline constexpr KernelVersion kAmdFeaturesEfr2First{6, 0};
inline constexpr KernelVersion kAmdFeaturesEfrFirst{6, 5};

}  // namespace iovamap
