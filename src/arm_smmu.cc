// The ARM SMMU v1/v2 driver (drivers/iommu/arm/arm-smmu/arm-smmu.c): how discovery recognises its
// units, the facts sysfs does not show that decide the stage-1 aperture (the VA size, Adreno's
// TTBR1 split tables), its reserved regions, and the paging domain VFIO gets. See
// iommu_driver_registry.h for the shape and docs/kernel-rules.md ("ARM SMMU v1/v2") for the rules.
// Kernel: arm-smmu.c in 6.12; io-pgtable-arm.c for the granule.

#include <string>

#include "iommu_driver_registry.h"

namespace iovamap::detail {
namespace {

// The unit's facts (IommuUnit::settings keys). sysfs shows none of the ID registers.
constexpr std::string_view kSmmuVaBits = "smmu-va-bits";
constexpr std::string_view kTtbr1 = "ttbr1";

constexpr UnitFact kFacts[] = {
    {.store = FactStore::kSetting,
     .key = kSmmuVaBits,
     .topology_key = "smmu-va-bits",
     .type = FactType::kBits,
     .meaning = "the SMMU's va_size (ID2.UBS; 32 for AArch32 formats), the stage-1 input size; "
                "no default: without it the aperture is unknown"},
    {.store = FactStore::kSetting,
     .key = kTtbr1,
     .topology_key = "smmu-ttbr1",
     .type = FactType::kBool,
     .meaning = "split (TTBR1) page tables, as Adreno GPUs use (IO_PGTABLE_QUIRK_ARM_TTBR1): "
                "the aperture is the top of the space; default off"},
};

class ArmSmmu final : public IommuDriverModel {
 public:
  std::string_view name() const override { return "arm-smmu"; }

  // arm_smmu_device_probe names each unit "smmu." followed by its register base address.
  bool detects(const UnitDirectory& unit) const override { return unit.name.starts_with("smmu."); }
  UnitDirectory example_directory() const override {
    return {.name = "smmu.0x0000000005040000",
            .entries = {"devices", "power", "subsystem", "uevent"},
            .canonical = "sys/devices/platform/soc@0/5040000.iommu/iommu/smmu.0x0000000005040000"};
  }

  std::span<const UnitFact> facts() const override { return kFacts; }
  DriverTraits traits() const override { return {}; }

  // arm_smmu_get_resv_regions: SW_MSI first, then iommu_dma_get_resv_regions (IORT ITS/RMR
  // regions, device-tree iommu-addresses), as typed; the same as SMMUv3.
  std::vector<ReservedRegion> device_regions(const IommuUnit& /*unit*/, const Device& device,
                                             KernelVersion /*kernel*/) const override {
    std::vector<ReservedRegion> out;
    out.push_back(driver_region(kSwMsiWindow, RegionType::kSwMsi, "arm-smmu SW_MSI window"));
    for (const ReservedRegion& r : device.firmware_regions)
      out.push_back(firmware_region(r, r.type, "IORT/device-tree region"));
    return out;
  }

  // arm_smmu_init_domain_context: stage 1 ias = va_size; with IO_PGTABLE_QUIRK_ARM_TTBR1 the
  // aperture is [~0 << ias, ~0], else [0, 2^ias - 1] (the unclamped ias in both cases).
  Result<Aperture> paging_aperture(const IommuUnit& unit, KernelVersion /*kernel*/) const override {
    const std::optional<uint64_t> va_bits = unit.setting(kSmmuVaBits);
    if (!va_bits) {
      return make_error(ENODATA, "arm-smmu unit " + unit.name +
                                     ": va_size unknown (sysfs does not show ID2.UBS); declare "
                                     "smmu-va-bits, address-bits or aperture");
    }
    IOVAMAP_ASSIGN_OR_RETURN(unsigned ias, checked_bits(va_bits, unit.name, kSmmuVaBits, 0));
    if (unit.setting(kTtbr1).value_or(0) != 0) {
      const uint64_t start = ias >= 64 ? 0 : (~uint64_t{0} << ias);
      return Aperture{Range{start, kMaxAddress}, true,
                      Provenance{Origin::kAperture, unit.name + ": stage-1 TTBR1 (upper) " +
                                                        std::to_string(ias) + " bits"}};
    }
    return Aperture{
        low_bits_range(ias), true,
        Provenance{Origin::kAperture, unit.name + ": stage-1 " + std::to_string(ias) + " bits"}};
  }

  // The SMMU's page sizes restricted to the 4 KiB granule (arm_lpae_restrict_pgsizes).
  Result<uint64_t> page_sizes(const IommuUnit& /*unit*/, KernelVersion /*kernel*/) const override {
    return kArm4kPgsizes;
  }
};

}  // namespace

const IommuDriverModel& arm_smmu() {
  static const ArmSmmu model;
  return model;
}

}  // namespace iovamap::detail
