// The description of a host that the model works on.
//
// Every source fills the same structures: live discovery and snapshots (sysfs), topology files
// (what-if hosts), and tests. The model (drivers, policies, containers) reads only these, never
// a file, so what a real host shows and what a user imagines are answered by one code path.
//
// Example:
//   Host host;
//   host.kernel = KernelVersion{6, 12};
//   host.iommus.push_back(IommuUnit{.name = "dmar0", .driver = "intel",
//                                   .registers = {{"cap", 0x00d2008c22260286}}});
//   Group& g = host.groups.emplace_back(Group{.id = 7, .type = "DMA-FQ"});
//   g.devices.push_back(Device{.name = "0000:01:00.0", .class_code = 0x020000,
//                              .driver = "vfio-pci", .iommu = "dmar0"});
//
// Sharp edges:
//   - `Group::devices` is in the kernel's group order (the order devices joined the group),
//     which decides how reserved regions merge; discovery uses PCI address order, the order in
//     which a PCI bus scan adds them.
//   - IommuUnit::registers and ::settings take any key: one its driver does not declare is kept
//     but never read (topology files refuse such keys), so spell keys as the driver does.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/firmware.h"
#include "iovamap/range.h"
#include "iovamap/region.h"
#include "iovamap/result.h"

namespace iovamap {

// A kernel release, major.minor: the rules that changed between kernels take it as input.
struct KernelVersion {
  int major = 0;
  int minor = 0;

  // Parses "6.12", "6.12.95+deb12-amd64", "5.10.0-28-amd64"; EINVAL otherwise.
  static Result<KernelVersion> parse(std::string_view text);
  // The newest kernel whose rules iovamap models.
  static constexpr KernelVersion newest() { return KernelVersion{7, 3}; }
  std::string to_string() const;

  friend constexpr auto operator<=>(const KernelVersion&, const KernelVersion&) = default;
  friend constexpr bool operator==(const KernelVersion&, const KernelVersion&) = default;
};

// The registered spelling of `driver` ("intel", "amd", "arm-smmu-v3", "arm-smmu", "virtio",
// "generic": the topology file spelling), which the model uses for it; "generic", the driver
// the model falls back to, for a name no driver has. Points at static storage.
std::string_view driver_name(std::string_view driver);
// `name` when a driver has it; EINVAL listing the drivers otherwise.
Result<std::string> parse_driver_name(std::string_view name);

// One IOMMU hardware unit (sysfs /sys/class/iommu/<name>). Facts a source does not know stay
// unset; the driver model derives what it can and says so when it cannot.
struct IommuUnit {
  std::string name;  // "dmar0", "ivhd0", "smmu3.0x0000000009050000", "0000:00:01.0"
  // Its driver, by name (see driver_name); the driver decides what everything below means.
  std::string driver = "generic";

  // Named facts, each driver's keys declared (with their meaning, the sysfs file or command-line
  // option they come from, and their topology key) in its file's fact table:
  // src/intel_iommu.cc, amd_iommu.cc, arm_smmu_v3.cc, arm_smmu.cc (virtio and generic units have
  // none). docs/topology.md lists them all.
  //   registers: hardware registers as sysfs shows them, e.g. Intel "cap", "ecap"; AMD "cap",
  //              "efr", "efr2".
  //   settings:  kernel settings and facts sysfs does not show, e.g. Intel "scalable-mode" (0/1),
  //              AMD "pgtbl-v2" (0/1), SMMU "smmu-va-bits", "cpu-va-bits", "ttbr1" (0/1); unset
  //              means the kernel's default, noted in the driver's table.
  std::map<std::string, uint64_t, std::less<>> registers;
  std::map<std::string, uint64_t, std::less<>> settings;

  // Declared by a topology file (or a user), taking precedence over derivation:
  std::optional<unsigned> address_bits;  // the aperture is [0, 2^bits - 1]
  std::optional<Range> aperture;         // the aperture exactly
  std::optional<uint64_t> page_sizes;    // iova_pgsizes bitmap

  // The register `key`, nullopt when unknown.
  std::optional<uint64_t> reg(std::string_view key) const;
  // The setting `key`, nullopt when unset (the kernel's default applies).
  std::optional<uint64_t> setting(std::string_view key) const;
};

// Whether MSIs are isolated, and what says so: "sys/kernel/irq/24/chip_name: 'IR-IO-APIC'",
// "topology FILE:7". See msi.h for the kernel's rule and how sysfs shows it.
struct MsiEvidence {
  bool isolated = true;
  std::string source;
};

// The bus DMA limit firmware gives a device's interconnect (drivers/acpi/arm64/dma.c and
// drivers/of/device.c set it as bus_dma_limit whatever driver binds, vfio-pci included): an
// IORT named component or root complex "memory address size limit", or the device tree's
// dma-ranges. firmware_dma_limit.h fills it.
struct FirmwareDmaLimit {
  // The highest bus address the device can reach; unset when the firmware declares a limit the
  // kernel ignores (then `detail` says why, and nothing is limited).
  std::optional<uint64_t> last;
  // Where it comes from: "IORT root complex node 2 (segment 0): memory address size limit 40
  // bits"; "device tree soc/pcie@7d500000 dma-ranges: ... declared, ignored by the kernel (...)".
  std::string detail;
};

// One device in an IOMMU group.
struct Device {
  std::string name;  // PCI "0000:01:00.0"; a platform device's sysfs name otherwise
  // Its canonical directory, root-relative ("sys/devices/pci0000:00/0000:00:1e.0/0000:01:00.0"):
  // the bridges above it and its firmware nodes (`firmware_node`, `of_node`) are found from it.
  // Empty for a topology file's devices.
  std::string sysfs_path;
  bool is_pci = true;
  uint16_t vendor = 0;
  uint16_t device_id = 0;
  uint32_t class_code = 0;  // 24 bits: base class, subclass, prog-if (0x020000 = Ethernet)
  std::string driver;       // the bound driver, "" when none
  std::optional<unsigned> dma_mask_bits;           // sysfs dma_mask_bits, as printed
  std::optional<unsigned> coherent_dma_mask_bits;  // sysfs consistent_dma_mask_bits
  std::optional<unsigned> declared_dma_bits;       // a limit the user declared
  std::string declared_dma_source;  // where: "--dma-limit 01:00.0=40", "topology vm.toml:12"
  // The firmware's bus DMA limit for the device (IORT, device tree), as the host loader finds it;
  // unset when firmware says nothing about it.
  std::optional<FirmwareDmaLimit> firmware_dma_limit;
  // Regions firmware assigns to this device (RMRR, IVMD, IORT RMR, device-tree
  // iommu-addresses, virtio-iommu PROBE), in firmware order. The driver's own windows (MSI,
  // HyperTransport hole, SW_MSI) are not listed here: the driver model adds them.
  std::vector<ReservedRegion> firmware_regions;
  // False when the kernel never attached IOMMU ops to the device (no dev->iommu); newer
  // kernels stop collecting a group's regions at the first such device.
  bool has_iommu = true;
  std::string iommu;  // name of its IommuUnit, "" when unknown
  // What the device's own MSI vectors show (sysfs <device>/msi_irqs), or a topology's
  // per-group `msi-isolated`; unset: the host's answer applies.
  std::optional<MsiEvidence> msi;
};

struct Group {
  uint32_t id = 0;
  std::string type;             // sysfs type: "DMA", "DMA-FQ", "identity", "blocked", ...
  std::vector<Device> devices;  // in the kernel's group order
  // The reserved_regions file as read from a running kernel, when there is one.
  std::optional<std::vector<ReservedRegion>> observed_regions;
};

struct Host {
  KernelVersion kernel = KernelVersion::newest();
  std::vector<IommuUnit> iommus;
  std::vector<Group> groups;  // sorted by id
  std::string source;         // "live host", "snapshot DIR", "topology FILE": for messages
  // The highest address of system RAM (inclusive): sysfs firmware/memmap, or a topology's
  // `ram-top`. A container whose usable space ends below it cannot map all RAM 1:1.
  std::optional<uint64_t> ram_top;
  // How many mappings one VFIO type1 container may hold: the dma_entry_limit parameter of
  // vfio_iommu_type1, read when a container is opened (drivers/vfio/vfio_iommu_type1.c). From
  // sysfs (the loaded module), the kernel command line (which modprobe applies when it loads
  // the module), or a topology's `dma-entry-limit`; unset means the default, 65535.
  std::optional<uint32_t> dma_entry_limit;
  // The allow_unsafe_interrupts parameters of vfio_iommu_type1 and of iommufd (sysfs
  // /sys/module/<module>/parameters, else the command line, or a topology's
  // `allow-unsafe-interrupts`); unset means the default, off.
  std::optional<bool> type1_allow_unsafe_interrupts;
  std::optional<bool> iommufd_allow_unsafe_interrupts;
  // Whether the host's MSIs are isolated (interrupt remapping on x86, a GICv3 ITS on arm64), as
  // the interrupt chips in sysfs show it, or a topology's `msi-isolated`; unset: unknown, and
  // the model assumes isolated (see msi.h).
  std::optional<MsiEvidence> msi;
  // `ivrs_ioapic` on the kernel command line: IO-APIC id -> PCI segment, bus, device and
  // function ((segment << 16) | bdf), the AMD driver's override of the IVRS (msi.h,
  // amd_intremap_check); the first word for an id wins (add_special_device keeps it).
  std::map<uint32_t, uint32_t> amd_ivrs_ioapic;
  // The firmware tables the kernel read (firmware.h), as a live host or a snapshot holds them;
  // empty for a topology file.
  Firmware firmware;

  // O(log n) when `groups` is sorted by id (as every source leaves it); O(n) otherwise.
  const Group* find_group(uint32_t id) const;
  const IommuUnit* find_iommu(std::string_view name) const;
  // The unit a group's devices sit behind (that of its first device with one), or nullptr.
  const IommuUnit* iommu_of(const Group& group) const;
};

}  // namespace iovamap
