// Private: the per-driver halves of iommu_driver.h, one file per driver family
// (intel_iommu.cc, amd_iommu.cc; ARM, virtio and generic live in iommu_driver.cc), and helpers
// they share. Nothing here is part of the public API.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/iommu_driver.h"

namespace iovamap::detail {

// The IOAPIC/MSI doorbell window both x86 drivers report (Intel IOAPIC_RANGE_START/END,
// AMD MSI_RANGE_START/END).
inline constexpr Range kX86MsiWindow{0xfee00000, 0xfeefffff};
// The software MSI window ARM SMMU and virtio-iommu report (MSI_IOVA_BASE, MSI_IOVA_LENGTH).
inline constexpr Range kSwMsiWindow{0x8000000, 0x80fffff};

// A driver-owned region with Origin::kDriver provenance.
ReservedRegion driver_region(const Range& range, RegionType type, std::string detail);
// `region` with its provenance rewritten to Origin::kFirmware: the first non-empty detail it
// carried, else `default_detail`.
ReservedRegion firmware_region(const ReservedRegion& region, RegionType type,
                               const std::string& default_detail);
// [0, 2^bits - 1] for bits in 1..64.
Range low_bits_range(unsigned bits);
// Parses bare lower-case or upper-case hex digits (no prefix, no sign), 1..16 of them.
Result<uint64_t> parse_bare_hex(std::string_view digits, const std::string& what);
// Strips one trailing "\n" (sysfs prints one).
std::string_view strip_newline(std::string_view text);

// Intel half.
std::vector<ReservedRegion> intel_device_regions(const IommuUnit& unit, const Device& device,
                                                 KernelVersion kernel);
Result<Aperture> intel_paging_aperture(const IommuUnit& unit, KernelVersion kernel);
Result<uint64_t> intel_page_sizes(const IommuUnit& unit, KernelVersion kernel);

// AMD half.
std::vector<ReservedRegion> amd_device_regions(const IommuUnit& unit, const Device& device,
                                               KernelVersion kernel);
Result<Aperture> amd_paging_aperture(const IommuUnit& unit, KernelVersion kernel);
Result<uint64_t> amd_page_sizes(const IommuUnit& unit, KernelVersion kernel);

}  // namespace iovamap::detail
