// The generic driver: a unit whose driver the model does not know (or a topology's
// `driver = "generic"`). It adds no region of its own and derives nothing: the firmware regions
// pass through as given, and the aperture and page sizes must be declared (IommuUnit::aperture
// or address_bits, page_sizes). The smallest driver file: a template for a new one (see
// iommu_driver_registry.h).

#include <string>

#include "iommu_driver_registry.h"

namespace iovamap::detail {
namespace {

class GenericIommu final : public IommuDriverModel {
 public:
  std::string_view name() const override { return "generic"; }

  // Last in the registry: every unit no other driver recognises.
  bool detects(const UnitDirectory& /*unit*/) const override { return true; }
  UnitDirectory example_directory() const override {
    return {.name = "iommu0",
            .entries = {"devices", "power", "subsystem", "uevent"},
            .canonical = "sys/devices/platform/iommu0/iommu/iommu0"};
  }

  std::span<const UnitFact> facts() const override { return {}; }
  DriverTraits traits() const override { return {.page_sizes_from_sysfs = false}; }

  std::vector<ReservedRegion> device_regions(const IommuUnit& /*unit*/, const Device& device,
                                             KernelVersion /*kernel*/) const override {
    std::vector<ReservedRegion> out;
    for (const ReservedRegion& r : device.firmware_regions)
      out.push_back(firmware_region(r, r.type, "firmware region"));
    return out;
  }

  Result<Aperture> paging_aperture(const IommuUnit& unit, KernelVersion /*kernel*/) const override {
    return make_error(ENODATA, "unit " + unit.name + " (" + std::string(driver_name(unit.driver)) +
                                   "): no rule derives the aperture; declare address_bits or "
                                   "aperture");
  }

  Result<uint64_t> page_sizes(const IommuUnit& unit, KernelVersion /*kernel*/) const override {
    return make_error(ENODATA, "unit " + unit.name + " (" + std::string(driver_name(unit.driver)) +
                                   "): no rule derives the page sizes; declare page_sizes");
  }
};

}  // namespace

const IommuDriverModel& generic_iommu() {
  static const GenericIommu model;
  return model;
}

}  // namespace iovamap::detail
