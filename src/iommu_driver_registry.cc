// The registry of IOMMU drivers (iommu_driver_registry.h), the helpers the driver files share,
// and the driver names of host.h.

#include "iommu_driver_registry.h"

#include <algorithm>
#include <charconv>

#include "iovamap/kernel_cmdline.h"

namespace iovamap {
namespace detail {

// ---- The registry ------------------------------------------------------------------------------
// One entry per driver: the function its file defines, declared here, and its place in the
// list. The list order is the detection order; generic, which takes any unit, stays last.
const IommuDriverModel& intel_iommu();    // intel_iommu.cc
const IommuDriverModel& amd_iommu();      // amd_iommu.cc
const IommuDriverModel& arm_smmu_v3();    // arm_smmu_v3.cc
const IommuDriverModel& arm_smmu();       // arm_smmu.cc
const IommuDriverModel& virtio_iommu();   // virtio_iommu.cc
const IommuDriverModel& generic_iommu();  // generic_iommu.cc

std::span<const IommuDriverModel* const> iommu_drivers() {
  static const IommuDriverModel* const kDrivers[] = {
      &intel_iommu(), &amd_iommu(), &arm_smmu_v3(), &arm_smmu(), &virtio_iommu(), &generic_iommu(),
  };
  return kDrivers;
}

const IommuDriverModel* find_driver(std::string_view name) {
  for (const IommuDriverModel* d : iommu_drivers())
    if (d->name() == name) return d;
  return nullptr;
}

const IommuDriverModel& driver_of(const IommuUnit& unit) {
  const IommuDriverModel* d = find_driver(unit.driver);
  return d ? *d : generic_iommu();
}

const IommuDriverModel& detect_driver(const UnitDirectory& unit) {
  for (const IommuDriverModel* d : iommu_drivers())
    if (d->detects(unit)) return *d;
  return generic_iommu();
}

std::map<std::string, uint64_t, std::less<>>& fact_store(IommuUnit& unit, const UnitFact& fact) {
  return fact.store == FactStore::kRegister ? unit.registers : unit.settings;
}

bool UnitDirectory::has(std::string_view entry) const {
  return std::binary_search(entries.begin(), entries.end(), entry);
}

void IommuDriverModel::apply_cmdline(std::string_view cmdline, IommuUnit* unit) const {
  for (const UnitFact& fact : facts()) {
    if (fact.cmdline_param.empty()) continue;
    for (std::string_view option : cmdline_driver_options(cmdline, fact.cmdline_param)) {
      for (const CmdlineChoice& choice : fact.cmdline_choices)
        if (option == choice.option) fact_store(*unit, fact)[std::string(fact.key)] = choice.value;
    }
  }
}

// ---- Shared by the driver files ---------------------------------------------------------------

ReservedRegion driver_region(const Range& range, RegionType type, std::string detail) {
  return ReservedRegion::make(range, type, Provenance{Origin::kDriver, std::move(detail)});
}

ReservedRegion firmware_region(const ReservedRegion& region, RegionType type,
                               const std::string& default_detail) {
  ReservedRegion out = region;
  std::string detail = default_detail;
  for (const Provenance& p : region.provenance) {
    if (!p.detail.empty()) {
      detail = p.detail;
      break;
    }
  }
  // A region kept from what the running kernel showed is not a table entry the driver types:
  // it keeps the type the kernel printed, and says it is observed, not derived.
  bool observed = !region.provenance.empty() && region.provenance[0].origin == Origin::kObserved;
  out.type = observed ? region.type : type;
  out.provenance = {Provenance{observed ? Origin::kObserved : Origin::kFirmware, detail}};
  return out;
}

Range low_bits_range(unsigned bits) {
  if (bits >= 64) return Range::all();
  return Range{0, (uint64_t{1} << bits) - 1};
}

Result<unsigned> checked_bits(std::optional<uint64_t> bits, const std::string& unit,
                              std::string_view what, unsigned fallback) {
  const uint64_t b = bits.value_or(fallback);
  if (b < 1 || b > 64) {
    return make_error(EINVAL, "unit " + unit + ": " + std::string(what) + " " + std::to_string(b) +
                                  " is outside 1..64");
  }
  return static_cast<unsigned>(b);
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

}  // namespace detail

std::string_view driver_name(std::string_view driver) {
  const detail::IommuDriverModel* d = detail::find_driver(driver);
  return d ? d->name() : detail::generic_iommu().name();
}

Result<std::string> parse_driver_name(std::string_view name) {
  if (const detail::IommuDriverModel* d = detail::find_driver(name)) return std::string(d->name());
  std::string known;
  for (const detail::IommuDriverModel* d : detail::iommu_drivers())
    known += (known.empty() ? "" : ", ") + std::string(d->name());
  return make_error(EINVAL, "unknown IOMMU driver '" + std::string(name) + "' (" + known + ")");
}

}  // namespace iovamap
