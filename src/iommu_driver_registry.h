// Private: the IOMMU driver registry. Each Linux IOMMU driver the model knows is one
// IommuDriverModel, in one file, that says in one place everything iovamap knows about it:
//   - its name ("intel": IommuUnit::driver, a topology's `driver`);
//   - how discovery recognises its units in /sys/class/iommu (detects), with an example;
//   - its facts (UnitFact): the registers it reads from files below the unit's sysfs directory
//     and their parsers, the settings the kernel command line sets, and the topology key that
//     declares each one (docs/topology.md lists them; a test keeps that table in step);
//   - what other layers need to know instead of testing its name (DriverTraits);
//   - the three answers of iommu_driver.h: device_regions, paging_aperture, page_sizes.
// Discovery, topology files, the public entry points and the docs iterate the registry; none
// of them names a driver.
//
// Adding a driver is one new file and one registry entry: write src/<driver>.cc with a class
// deriving from IommuDriverModel and a function returning its one instance
// (generic_iommu.cc is the smallest), then declare that function and put it in the list in
// iommu_driver_registry.cc, both in one place, where the list order is the detection order.
// iommu_driver_registry_test.cc checks every entry: a unique name, an example unit directory
// that it detects and no earlier driver takes, documented and unique keys that topology files
// and the command line set, and that docs/topology.md lists those keys (the test prints the
// rows it expects).
//
// Example (what discovery does with a unit directory):
//   const IommuDriverModel& model = detect_driver(UnitDirectory{
//       .name = "dmar0", .entries = {"intel-iommu", "power"},
//       .canonical = "sys/devices/virtual/iommu/dmar0"});
//   model.name();                                  // "intel"
//   for (const UnitFact& f : model.facts()) ...    // f.sysfs_file "intel-iommu/cap", ...
//
// Sharp edges:
//   - Detection is tried in registry order and the first driver that says yes wins; the generic
//     driver, last, takes any unit.
//   - A unit whose `driver` names no registered driver is modelled as generic (driver_of).
//   - Facts are plain uint64_t values; what a value means is the driver's business, written
//     next to its key in its file. Unset means "unknown" for a register and "the kernel's
//     default" for a setting.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/host.h"
#include "iovamap/iommu_driver.h"
#include "iovamap/result.h"
#include "iovamap/sysfs_reader.h"

namespace iovamap::detail {

// A unit's directory in /sys/class/iommu, as detection sees it.
struct UnitDirectory {
  std::string name;                  // "dmar0", "smmu3.0x0000000009050000", "0000:00:01.0"
  std::vector<std::string> entries;  // the names in the directory, sorted; empty when missing
  std::string canonical;             // root-relative path the class link points to
  bool has(std::string_view entry) const;
};

// Which of the unit's stores a fact lives in.
enum class FactStore : uint8_t {
  kRegister,  // IommuUnit::registers: a hardware register as sysfs shows it
  kSetting,   // IommuUnit::settings: a kernel setting, or a fact sysfs does not show
};

// How a topology file writes a fact's value.
enum class FactType : uint8_t {
  kNumber,  // a value (docs/topology.md "Values") up to UnitFact::max
  kBool,    // true or false, stored as 1 or 0
  kBits,    // a bit count, 1..64
};

// One option of a driver's boot parameter and the value it gives a setting: with
// `intel_iommu=sm_off`, {"sm_off", 0}.
struct CmdlineChoice {
  std::string_view option;
  uint64_t value = 0;
};

// Parses the text of a fact's sysfs file as `kernel` prints it; errors name `file_name`.
// nullopt: this kernel's file does not show the fact (AMD's EFR2 before 6.0).
using SysfsFactParser = Result<std::optional<uint64_t>> (*)(std::string_view text,
                                                            const std::string& file_name,
                                                            KernelVersion kernel);

// One register or setting of a driver's units: where it is kept, where a live host shows it,
// and how a topology file declares it.
struct UnitFact {
  FactStore store = FactStore::kRegister;
  std::string_view key;           // in IommuUnit::registers or ::settings: "cap", "scalable-mode"
  std::string_view topology_key;  // the [[iommu]] key that declares it: "intel-cap"
  FactType type = FactType::kNumber;
  uint64_t max = UINT64_MAX;  // kNumber: the largest value (a 32-bit register: 0xffffffff)
  std::string_view meaning;   // for docs/topology.md: what it is, what unset means
  // A live host shows it in this file below the unit's sysfs directory (or, when the name
  // starts with '/', at that path: "/sys/firmware/acpi/tables/IVRS"), read with this parser
  // (several facts may share a file)...
  std::string_view sysfs_file;  // "intel-iommu/cap"; empty when sysfs does not show it
  SysfsFactParser parse_sysfs = nullptr;
  // ...or sets it with these options of this boot parameter (the last one given wins).
  std::string_view cmdline_param;  // "intel_iommu"; empty when the command line does not
  std::span<const CmdlineChoice> cmdline_choices;
};

// One Linux IOMMU driver. Implementations are stateless singletons (see the file comment).
class IommuDriverModel {
 public:
  virtual ~IommuDriverModel() = default;

  // The name IommuUnit::driver and a topology's `driver` use: "intel", "arm-smmu-v3".
  virtual std::string_view name() const = 0;

  // Whether `unit` is one of this driver's, from what the driver itself puts in sysfs (its
  // attribute group, its name pattern, where it registers the unit). Tried in registry order.
  virtual bool detects(const UnitDirectory& unit) const = 0;
  // A unit directory as this driver registers one: detects() takes it, and no driver before
  // this one in the registry does.
  virtual UnitDirectory example_directory() const = 0;

  // Every register and setting the driver reads about a unit, in reading order.
  virtual std::span<const UnitFact> facts() const = 0;
  // Sets the unit's settings from the kernel command line. The default walks each fact's
  // boot parameter options in order (a later option wins); an option that is no choice of any
  // fact is left to the kernel, which ignores it or acts on something the model does not.
  virtual void apply_cmdline(std::string_view cmdline, IommuUnit* unit) const;

  // What other layers need to know about this driver.
  virtual DriverTraits traits() const = 0;

  // The three answers of iommu_driver.h for a unit of this driver. paging_aperture and
  // page_sizes derive them: declared values (IommuUnit::aperture, address_bits, page_sizes)
  // have already been handled by the entry points when these are called.
  virtual std::vector<ReservedRegion> device_regions(const IommuUnit& unit, const Device& device,
                                                     KernelVersion kernel) const = 0;
  virtual Result<Aperture> paging_aperture(const IommuUnit& unit, KernelVersion kernel) const = 0;
  virtual Result<uint64_t> page_sizes(const IommuUnit& unit, KernelVersion kernel) const = 0;
};

// The registry: every driver, in detection order (generic last).
std::span<const IommuDriverModel* const> iommu_drivers();
// The driver named `name`, or nullptr.
const IommuDriverModel* find_driver(std::string_view name);
// The driver of `unit`: the one its `driver` names, else the generic driver.
const IommuDriverModel& driver_of(const IommuUnit& unit);
// The first driver, in registry order, that detects `unit` (the generic driver takes any).
const IommuDriverModel& detect_driver(const UnitDirectory& unit);
// The store of `unit` that `fact` lives in.
std::map<std::string, uint64_t, std::less<>>& fact_store(IommuUnit& unit, const UnitFact& fact);

// ---- Shared by the driver files ---------------------------------------------------------------

// The IOAPIC/MSI doorbell window both x86 drivers report (Intel IOAPIC_RANGE_START/END,
// AMD MSI_RANGE_START/END).
inline constexpr Range kX86MsiWindow{0xfee00000, 0xfeefffff};
// The software MSI window ARM SMMU and virtio-iommu report (MSI_IOVA_BASE, MSI_IOVA_LENGTH).
inline constexpr Range kSwMsiWindow{0x8000000, 0x80fffff};
// The ARM io-pgtable granule follows the kernel's 4 KiB pages: 4 KiB, 2 MiB and 1 GiB blocks,
// and at most 48 input bits (drivers/iommu/io-pgtable-arm.c, arm_lpae_restrict_pgsizes; 52
// only with the 64 KiB granule). Both ARM SMMU drivers use it.
inline constexpr uint64_t kArm4kPgsizes =
    (uint64_t{1} << 12) | (uint64_t{1} << 21) | (uint64_t{1} << 30);
inline constexpr unsigned kArm4kMaxBits = 48;

// A driver-owned region with Origin::kDriver provenance.
ReservedRegion driver_region(const Range& range, RegionType type, std::string detail);
// `region` as a firmware table entry of `type` with Origin::kFirmware provenance (the first
// non-empty detail it carried, else `default_detail`); a region observed from a running kernel
// (Origin::kObserved) keeps its own type and stays observed.
ReservedRegion firmware_region(const ReservedRegion& region, RegionType type,
                               const std::string& default_detail);
// [0, 2^bits - 1] for bits in 1..64.
Range low_bits_range(unsigned bits);
// `bits` (or `fallback` when unset) when it is in 1..64; EINVAL naming the unit and `what`
// otherwise.
Result<unsigned> checked_bits(std::optional<uint64_t> bits, const std::string& unit,
                              std::string_view what, unsigned fallback);
// Parses bare lower-case or upper-case hex digits (no prefix, no sign), 1..16 of them.
Result<uint64_t> parse_bare_hex(std::string_view digits, const std::string& what);

}  // namespace iovamap::detail
