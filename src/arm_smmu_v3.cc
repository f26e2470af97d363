// The ARM SMMUv3 driver (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c): how discovery recognises
// its units, the two facts sysfs does not show that decide the stage-1 aperture (the SMMU's VA
// size, the CPU's VA_BITS), its reserved regions, and the paging domain VFIO gets. See
// iommu_driver_registry.h for the shape and docs/kernel-rules.md ("ARM SMMUv3") for the rules.
// Kernel: arm-smmu-v3.c in 5.10, 6.1, 6.12; io-pgtable-arm.c for the granule.

#include <algorithm>
#include <string>

#include "iommu_driver_registry.h"

namespace iovamap::detail {
namespace {

// The unit's facts (IommuUnit::settings keys). sysfs shows none of the ID registers.
constexpr std::string_view kSmmuVaBits = "smmu-va-bits";
constexpr std::string_view kCpuVaBits = "cpu-va-bits";

// Both default to 48: an SMMU without IDR5.VAX, and a kernel with VA_BITS of 48 or more (the 4
// KiB granule caps the aperture at 48 bits anyway, see paging_aperture).
constexpr unsigned kDefaultVaBits = 48;

constexpr UnitFact kFacts[] = {
    {.store = FactStore::kSetting,
     .key = kSmmuVaBits,
     .topology_key = "smmu-va-bits",
     .type = FactType::kBits,
     .meaning = "the SMMU's stage-1 input size: 52 with IDR5.VAX, else 48 (the boot log shows "
                "it); default 48"},
    {.store = FactStore::kSetting,
     .key = kCpuVaBits,
     .topology_key = "cpu-va-bits",
     .type = FactType::kBits,
     .meaning = "the kernel's VA_BITS (CONFIG_ARM64_VA_BITS), which caps stage 1; default 48"},
};

class ArmSmmuV3 final : public IommuDriverModel {
 public:
  std::string_view name() const override { return "arm-smmu-v3"; }

  // arm_smmu_device_probe names each unit "smmu3." followed by its register base address.
  bool detects(const UnitDirectory& unit) const override { return unit.name.starts_with("smmu3."); }
  UnitDirectory example_directory() const override {
    return {.name = "smmu3.0x0000000009050000",
            .entries = {"devices", "power", "subsystem", "uevent"},
            .canonical = "sys/devices/platform/9050000.smmuv3/iommu/smmu3.0x0000000009050000"};
  }

  std::span<const UnitFact> facts() const override { return kFacts; }
  DriverTraits traits() const override { return {}; }

  // arm_smmu_get_resv_regions: SW_MSI first, then iommu_dma_get_resv_regions (IORT ITS/RMR
  // regions, device-tree iommu-addresses), as typed.
  std::vector<ReservedRegion> device_regions(const IommuUnit& /*unit*/, const Device& device,
                                             KernelVersion /*kernel*/) const override {
    std::vector<ReservedRegion> out;
    out.push_back(driver_region(kSwMsiWindow, RegionType::kSwMsi, "arm-smmu SW_MSI window"));
    for (const ReservedRegion& r : device.firmware_regions)
      out.push_back(firmware_region(r, r.type, "IORT/device-tree region"));
    return out;
  }

  // arm_smmu_domain_finalise: stage 1 takes 52 bits with IDR5.VAX else 48, capped by VA_BITS;
  // io-pgtable then caps it at 48 for the 4 KiB granule; aperture_end = 2^ias - 1.
  Result<Aperture> paging_aperture(const IommuUnit& unit, KernelVersion /*kernel*/) const override {
    const std::optional<uint64_t> smmu_bits = unit.setting(kSmmuVaBits);
    const std::optional<uint64_t> cpu_bits = unit.setting(kCpuVaBits);
    IOVAMAP_ASSIGN_OR_RETURN(unsigned smmu,
                             checked_bits(smmu_bits, unit.name, kSmmuVaBits, kDefaultVaBits));
    IOVAMAP_ASSIGN_OR_RETURN(unsigned cpu,
                             checked_bits(cpu_bits, unit.name, kCpuVaBits, kDefaultVaBits));
    const unsigned ias = std::min({smmu, cpu, kArm4kMaxBits});
    std::string detail = unit.name + ": stage-1, " + std::to_string(ias) + " input bits (SMMU " +
                         std::to_string(smmu) + ", VA_BITS " + std::to_string(cpu) +
                         ", 4 KiB granule)";
    if (!smmu_bits || !cpu_bits) detail += ", defaults assumed";
    return Aperture{low_bits_range(ias), true, Provenance{Origin::kAperture, detail}};
  }

  // The SMMU's page sizes restricted to the 4 KiB granule (arm_lpae_restrict_pgsizes).
  Result<uint64_t> page_sizes(const IommuUnit& /*unit*/, KernelVersion /*kernel*/) const override {
    return kArm4kPgsizes;
  }
};

}  // namespace

const IommuDriverModel& arm_smmu_v3() {
  static const ArmSmmuV3 model;
  return model;
}

}  // namespace iovamap::detail
