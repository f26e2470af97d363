// The virtio-iommu driver (drivers/iommu/virtio-iommu.c): how discovery recognises its units,
// the reserved regions the device answers per endpoint (PROBE), and the paging domain VFIO
// gets. The device's input_range and page_size_mask are not in sysfs (the kernel logs them at
// probe): a topology or a user declares them as IommuUnit::aperture and page_sizes, so the
// driver has no facts of its own. See iommu_driver_registry.h for the shape and
// docs/kernel-rules.md ("virtio-iommu") for the rules. Kernel: virtio-iommu.c in 5.10, 6.1,
// 6.12.

#include <algorithm>
#include <string>

#include "iommu_driver_registry.h"
#include "iovamap/sysfs_reader.h"

namespace iovamap::detail {
namespace {

// virtio-iommu keeps PROBE regions sorted by start from 5.17 ("iommu/virtio: Sort reserved
// regions"); before, each one was added at the head of the list, reversing the probe order.
constexpr KernelVersion kVirtioSortedRegions{5, 17};

class VirtioIommu final : public IommuDriverModel {
 public:
  std::string_view name() const override { return "virtio"; }

  // viommu_probe registers the unit below its virtio device, so the class link points at
  // ".../virtioN/iommu/<name>" (the name is the PCI address of the virtio-iommu device).
  bool detects(const UnitDirectory& unit) const override {
    const std::string_view path = unit.canonical;
    const size_t at = path.rfind("/iommu/");
    if (at == std::string_view::npos) return false;
    return base_name(path.substr(0, at)).starts_with("virtio");
  }
  UnitDirectory example_directory() const override {
    return {.name = "0000:00:01.0",
            .entries = {"devices", "power", "subsystem", "uevent"},
            .canonical = "sys/devices/pci0000:00/0000:00:01.0/virtio0/iommu/0000:00:01.0"};
  }

  std::span<const UnitFact> facts() const override { return {}; }
  DriverTraits traits() const override {
    return {.regions_probed_per_endpoint = true, .page_sizes_from_sysfs = false};
  }

  // viommu_get_resv_regions: the endpoint's PROBE regions in list order, then SW_MSI when none
  // of them is an MSI region, then iommu_dma_get_resv_regions (not modelled separately).
  std::vector<ReservedRegion> device_regions(const IommuUnit& /*unit*/, const Device& device,
                                             KernelVersion kernel) const override {
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
          driver_region(kSwMsiWindow, RegionType::kSwMsi, "virtio-iommu SW_MSI window"));
    }
    return probed;
  }

  // viommu_probe: input_range defaults to [0, 2^64 - 1] when the device does not offer
  // VIRTIO_IOMMU_F_INPUT_RANGE; what it offers is only in the probe log.
  Result<Aperture> paging_aperture(const IommuUnit& unit, KernelVersion /*kernel*/) const override {
    return Aperture{
        Range::all(), true,
        Provenance{
            Origin::kAperture,
            unit.name + ": virtio-iommu input_range not known, driver default (whole space)"}};
  }

  Result<uint64_t> page_sizes(const IommuUnit& unit, KernelVersion /*kernel*/) const override {
    return make_error(ENODATA, "virtio unit " + unit.name +
                                   ": page_size_mask is not in sysfs (the kernel logs it as "
                                   "'page mask: 0x...'); declare page_sizes");
  }
};

}  // namespace

const IommuDriverModel& virtio_iommu() {
  static const VirtioIommu model;
  return model;
}

}  // namespace iovamap::detail
