// The driver model's entry points, declared values, and the ARM SMMU, virtio-iommu and generic
// drivers. Intel and AMD live in intel_iommu.cc and amd_iommu.cc. See docs/kernel-rules.md.

#include "iovamap/iommu_driver.h"

#include <algorithm>
#include <charconv>

#include "iommu_driver_impl.h"

namespace iovamap {
namespace detail {

ReservedRegion driver_region(const Range& range, RegionType type, std::string detail) {
  return ReservedRegion::make(range, type, Provenance{Origin::kDriver, std::move(detail)});
}

ReservedRegion firmware_region(const ReservedRegion& region, RegionType type,
                               const std::string& default_detail) {
  ReservedRegion out = region;
  out.type = type;
  std::string detail = default_detail;
  for (const Provenance& p : region.provenance) {
    if (!p.detail.empty()) {
      detail = p.detail;
      break;
    }
  }
  out.provenance = {Provenance{Origin::kFirmware, detail}};
  return out;
}

Range low_bits_range(unsigned bits) {
  if (bits >= 64) return Range::all();
  return Range{0, (uint64_t{1} << bits) - 1};
}

Result<uint64_t> parse_bare_hex(std::string_view digits, const std::string& what) {
  if (digits.empty()) return make_error(EINVAL, "empty " + what);
  if (digits.size() > 16)
    return make_error(EINVAL, what + " '" + std::string(digits) + "' has more than 16 digits");
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
  // from_chars accepts no prefix and no sign for base 16, so any leftover is a bad character.
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return make_error(EINVAL, what + " '" + std::string(digits) +
                                  "' is not bare hex (no 0x, no sign, no spaces)");
  }
  return value;
}

std::string_view strip_newline(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  return text;
}

}  // namespace detail

namespace {

using detail::driver_region;
using detail::firmware_region;
using detail::low_bits_range;

// virtio-iommu keeps PROBE regions sorted by start from 5.17 ("iommu/virtio: Sort reserved
// regions"); before, each one was added at the head of the list, reversing the probe order.
constexpr KernelVersion kVirtioSortedRegions{5, 17};

// The ARM io-pgtable granule follows the kernel's 4 KiB pages: 4 KiB, 2 MiB and 1 GiB blocks,
// and at most 48 input bits (arm_lpae_restrict_pgsizes; 52 only with the 64 KiB granule).
constexpr uint64_t kArm4kPgsizes = (uint64_t{1} << 12) | (uint64_t{1} << 21) | (uint64_t{1} << 30);
constexpr unsigned kArm4kMaxBits = 48;

std::vector<ReservedRegion> arm_device_regions(const Device& device) {
  // arm_smmu_get_resv_regions (v3) and its v2 twin: SW_MSI first, then
  // iommu_dma_get_resv_regions (IORT ITS/RMR regions, device-tree iommu-addresses), as typed.
  std::vector<ReservedRegion> out;
  out.push_back(driver_region(detail::kSwMsiWindow, RegionType::kSwMsi, "arm-smmu SW_MSI window"));
  for (const ReservedRegion& r : device.firmware_regions)
    out.push_back(firmware_region(r, r.type, "IORT/device-tree region"));
  return out;
}

std::vector<ReservedRegion> virtio_device_regions(const Device& device, KernelVersion kernel) {
  // viommu_get_resv_regions: the endpoint's PROBE regions in list order, then SW_MSI when none
  // of them is an MSI region, then iommu_dma_get_resv_regions (not modelled separately).
  std::vector<ReservedRegion> probed;
  for (const ReservedRegion& r : device.firmware_regions)
    probed.push_back(firmware_region(r, r.type, "virtio-iommu PROBE region"));
  if (kernel < kVirtioSortedRegions) {
    std::reverse(probed.begin(), probed.end());
  } else {
    // viommu_add_resv_mem inserts before the first entry that starts later: a stable sort.
    std::stable_sort(
        probed.begin(), probed.end(),
        [](const ReservedRegion& a, const ReservedRegion& b) { return a.start < b.start; });
  }
  const bool has_msi = std::any_of(probed.begin(), probed.end(), [](const ReservedRegion& r) {
    return r.type == RegionType::kMsi;
  });
  if (!has_msi) {
    probed.push_back(
        driver_region(detail::kSwMsiWindow, RegionType::kSwMsi, "virtio-iommu SW_MSI window"));
  }
  return probed;
}

std::vector<ReservedRegion> generic_device_regions(const Device& device) {
  std::vector<ReservedRegion> out;
  for (const ReservedRegion& r : device.firmware_regions)
    out.push_back(firmware_region(r, r.type, "firmware region"));
  return out;
}

Result<unsigned> checked_bits(std::optional<unsigned> bits, const std::string& unit,
                              const char* field, unsigned fallback) {
  const unsigned b = bits.value_or(fallback);
  if (b < 1 || b > 64) {
    return make_error(
        EINVAL, "unit " + unit + ": " + field + " " + std::to_string(b) + " is outside 1..64");
  }
  return b;
}

Result<Aperture> smmu_v3_aperture(const IommuUnit& unit) {
  // arm_smmu_domain_finalise: stage 1 takes 52 bits with IDR5.VAX else 48, capped by VA_BITS;
  // io-pgtable then caps it at 48 for the 4 KiB granule; aperture_end = 2^ias - 1.
  Result<unsigned> smmu = checked_bits(unit.smmu_va_bits, unit.name, "smmu_va_bits", 48);
  if (!smmu) return smmu.error();
  Result<unsigned> cpu = checked_bits(unit.cpu_va_bits, unit.name, "cpu_va_bits", 48);
  if (!cpu) return cpu.error();
  const unsigned ias = std::min({*smmu, *cpu, kArm4kMaxBits});
  std::string detail = unit.name + ": stage-1, " + std::to_string(ias) + " input bits (SMMU " +
                       std::to_string(*smmu) + ", VA_BITS " + std::to_string(*cpu) +
                       ", 4 KiB granule)";
  if (!unit.smmu_va_bits || !unit.cpu_va_bits) detail += ", defaults assumed";
  return Aperture{low_bits_range(ias), true, Provenance{Origin::kAperture, detail}};
}

Result<Aperture> smmu_v2_aperture(const IommuUnit& unit) {
  // arm_smmu_init_domain_context: stage 1 ias = va_size; with IO_PGTABLE_QUIRK_ARM_TTBR1 the
  // aperture is [~0 << ias, ~0], else [0, 2^ias - 1] (the unclamped ias in both cases).
  if (!unit.smmu_va_bits) {
    return make_error(ENODATA, "arm-smmu unit " + unit.name +
                                   ": va_size unknown (sysfs does not show ID2.UBS); declare "
                                   "smmu_va_bits, address_bits or aperture");
  }
  Result<unsigned> ias = checked_bits(unit.smmu_va_bits, unit.name, "smmu_va_bits", 0);
  if (!ias) return ias.error();
  if (unit.smmu_ttbr1.value_or(false)) {
    const uint64_t start = *ias >= 64 ? 0 : (~uint64_t{0} << *ias);
    return Aperture{Range{start, kMaxAddress}, true,
                    Provenance{Origin::kAperture, unit.name + ": stage-1 TTBR1 (upper) " +
                                                      std::to_string(*ias) + " bits"}};
  }
  return Aperture{
      low_bits_range(*ias), true,
      Provenance{Origin::kAperture, unit.name + ": stage-1 " + std::to_string(*ias) + " bits"}};
}

}  // namespace

std::vector<ReservedRegion> device_regions(const IommuUnit& unit, const Device& device,
                                           KernelVersion kernel) {
  switch (unit.driver) {
    case IommuDriver::kIntel:
      return detail::intel_device_regions(unit, device, kernel);
    case IommuDriver::kAmd:
      return detail::amd_device_regions(unit, device, kernel);
    case IommuDriver::kArmSmmuV3:
    case IommuDriver::kArmSmmu:
      return arm_device_regions(device);
    case IommuDriver::kVirtio:
      return virtio_device_regions(device, kernel);
    case IommuDriver::kGeneric:
      return generic_device_regions(device);
  }
  return generic_device_regions(device);
}

Result<Aperture> paging_aperture(const IommuUnit& unit, KernelVersion kernel) {
  if (unit.aperture) {
    if (unit.aperture->first > unit.aperture->last) {
      return make_error(EINVAL, "unit " + unit.name + ": declared aperture " +
                                    to_string(*unit.aperture) + " ends before it starts");
    }
    return Aperture{*unit.aperture, true,
                    Provenance{Origin::kAperture, unit.name + ": declared aperture"}};
  }
  if (unit.address_bits) {
    Result<unsigned> bits = checked_bits(unit.address_bits, unit.name, "address_bits", 0);
    if (!bits) return bits.error();
    return Aperture{low_bits_range(*bits), true,
                    Provenance{Origin::kAperture, unit.name + ": declared " +
                                                      std::to_string(*bits) + " address bits"}};
  }
  switch (unit.driver) {
    case IommuDriver::kIntel:
      return detail::intel_paging_aperture(unit, kernel);
    case IommuDriver::kAmd:
      return detail::amd_paging_aperture(unit, kernel);
    case IommuDriver::kArmSmmuV3:
      return smmu_v3_aperture(unit);
    case IommuDriver::kArmSmmu:
      return smmu_v2_aperture(unit);
    case IommuDriver::kVirtio:
      // viommu_probe: input_range defaults to [0, 2^64 - 1] when the device does not offer
      // VIRTIO_IOMMU_F_INPUT_RANGE; what it offers is only in the probe log.
      return Aperture{
          Range::all(), true,
          Provenance{Origin::kAperture, unit.name + ": virtio-iommu input_range not known, driver "
                                                    "default (whole space)"}};
    case IommuDriver::kGeneric:
      break;
  }
  return make_error(ENODATA, "unit " + unit.name + " (" + std::string(driver_name(unit.driver)) +
                                 "): no rule derives the aperture; declare address_bits or "
                                 "aperture");
}

Result<uint64_t> page_sizes(const IommuUnit& unit, KernelVersion kernel) {
  if (unit.page_sizes) {
    if (*unit.page_sizes == 0)
      return make_error(EINVAL, "unit " + unit.name + ": declared page_sizes is 0");
    return *unit.page_sizes;
  }
  switch (unit.driver) {
    case IommuDriver::kIntel:
      return detail::intel_page_sizes(unit, kernel);
    case IommuDriver::kAmd:
      return detail::amd_page_sizes(unit, kernel);
    case IommuDriver::kArmSmmuV3:
    case IommuDriver::kArmSmmu:
      return kArm4kPgsizes;
    case IommuDriver::kVirtio:
      return make_error(ENODATA, "virtio unit " + unit.name +
                                     ": page_size_mask is not in sysfs (the kernel logs it as "
                                     "'page mask: 0x...'); declare page_sizes");
    case IommuDriver::kGeneric:
      break;
  }
  return make_error(ENODATA, "unit " + unit.name + " (" + std::string(driver_name(unit.driver)) +
                                 "): no rule derives the page sizes; declare page_sizes");
}

}  // namespace iovamap
