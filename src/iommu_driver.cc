// The driver model's entry points (iommu_driver.h): declared values first, then the unit's
// driver from the registry (iommu_driver_registry.h), each driver in its own file. See
// docs/kernel-rules.md.

#include "iovamap/iommu_driver.h"

#include "iommu_driver_registry.h"

namespace iovamap {

DriverTraits driver_traits(const IommuUnit& unit) {
  return detail::driver_of(unit).traits();
}

std::vector<ReservedRegion> device_regions(const IommuUnit& unit, const Device& device,
                                           KernelVersion kernel) {
  return detail::driver_of(unit).device_regions(unit, device, kernel);
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
    IOVAMAP_ASSIGN_OR_RETURN(unsigned bits,
                             detail::checked_bits(unit.address_bits, unit.name, "address_bits", 0));
    return Aperture{detail::low_bits_range(bits), true,
                    Provenance{Origin::kAperture,
                               unit.name + ": declared " + std::to_string(bits) + " address bits"}};
  }
  return detail::driver_of(unit).paging_aperture(unit, kernel);
}

Result<uint64_t> page_sizes(const IommuUnit& unit, KernelVersion kernel) {
  if (unit.page_sizes) {
    if (*unit.page_sizes == 0)
      return make_error(EINVAL, "unit " + unit.name + ": declared page_sizes is 0");
    return *unit.page_sizes;
  }
  return detail::driver_of(unit).page_sizes(unit, kernel);
}

}  // namespace iovamap
