// The description of a host that the model works on.
//
// Every source fills the same structures: live discovery and snapshots (sysfs), topology files
// (what-if hosts), and tests. The model (drivers, policies, containers) reads only these, never
// a file, so what a real host shows and what a user imagines are answered by one code path.
//
// Example:
//   Host host;
//   host.kernel = KernelVersion{6, 12};
//   host.iommus.push_back(IommuUnit{.name = "dmar0", .driver = IommuDriver::kIntel,
//                                   .intel_cap = 0x00d2008c22260286});
//   Group& g = host.groups.emplace_back(Group{.id = 7, .type = "DMA-FQ"});
//   g.devices.push_back(Device{.name = "0000:01:00.0", .class_code = 0x020000,
//                              .driver = "vfio-pci", .iommu = "dmar0"});
//
// Sharp edge: `Group::devices` is in the kernel's group order (the order devices joined the
// group), which decides how reserved regions merge; discovery uses PCI address order, the
// order in which a PCI bus scan adds them.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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
  static constexpr KernelVersion newest() { return KernelVersion{6, 18}; }
  std::string to_string() const;

  friend constexpr auto operator<=>(const KernelVersion&, const KernelVersion&) = default;
  friend constexpr bool operator==(const KernelVersion&, const KernelVersion&) = default;
};

enum class IommuDriver : uint8_t { kIntel, kAmd, kArmSmmuV3, kArmSmmu, kVirtio, kGeneric };
// "intel", "amd", "arm-smmu-v3", "arm-smmu", "virtio", "generic": the topology file spelling.
std::string_view driver_name(IommuDriver driver);
Result<IommuDriver> parse_driver_name(std::string_view name);

// One IOMMU hardware unit (sysfs /sys/class/iommu/<name>). Fields a source does not know stay
// empty; the driver model derives what it can and says so when it cannot.
struct IommuUnit {
  std::string name;  // "dmar0", "ivhd0", "smmu3.0x0000000009050000", "0000:00:01.0"
  IommuDriver driver = IommuDriver::kGeneric;

  // Intel VT-d: the cap and ecap registers (sysfs intel-iommu/cap, ecap; bare hex there).
  std::optional<uint64_t> intel_cap;
  std::optional<uint64_t> intel_ecap;
  // AMD-Vi: the capability header and the extended feature registers (sysfs amd-iommu/cap and
  // features, whose format changed across kernels; the parser fills these).
  std::optional<uint32_t> amd_cap;
  std::optional<uint64_t> amd_efr;
  std::optional<uint64_t> amd_efr2;

  // Kernel settings and facts sysfs does not show that change a unit's paging domains; unset
  // means the default noted (see iommu_driver.h and docs/kernel-rules.md):
  std::optional<bool> intel_scalable_mode;  // intel_iommu=sm_on/sm_off; default on (Debian)
  std::optional<bool> amd_v2_page_table;    // amd_iommu=pgtbl_v2; default off (v1 tables)
  std::optional<unsigned> smmu_va_bits;     // SMMUv3: 52 with IDR5.VAX else 48; SMMUv2: va_size
  std::optional<unsigned> cpu_va_bits;      // arm64 VA_BITS (caps SMMUv3 stage 1); default 48
  std::optional<bool> smmu_ttbr1;           // SMMUv2 Adreno split tables: aperture at the top

  // Declared by a topology file (or a user), taking precedence over derivation:
  std::optional<unsigned> address_bits;  // the aperture is [0, 2^bits - 1]
  std::optional<Range> aperture;         // the aperture exactly
  std::optional<uint64_t> page_sizes;    // iova_pgsizes bitmap
};

// Whether MSIs are isolated, and what says so: "sys/kernel/irq/24/chip_name: 'IR-IO-APIC'",
// "topology FILE:7". See msi.h for the kernel's rule and how sysfs shows it.
struct MsiEvidence {
  bool isolated = true;
  std::string source;
};

// One device in an IOMMU group.
struct Device {
  std::string name;  // PCI "0000:01:00.0"; a platform device's sysfs name otherwise
  bool is_pci = true;
  uint16_t vendor = 0;
  uint16_t device_id = 0;
  uint32_t class_code = 0;  // 24 bits: base class, subclass, prog-if (0x020000 = Ethernet)
  std::string driver;       // the bound driver, "" when none
  std::optional<unsigned> dma_mask_bits;           // sysfs dma_mask_bits, as printed
  std::optional<unsigned> coherent_dma_mask_bits;  // sysfs consistent_dma_mask_bits
  std::optional<unsigned> declared_dma_bits;       // a limit the user declared
  std::string declared_dma_source;  // where: "--dma-limit 01:00.0=40", "topology vm.toml:12"
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

  const Group* find_group(uint32_t id) const;
  const IommuUnit* find_iommu(std::string_view name) const;
  // The unit a group's devices sit behind (that of its first device with one), or nullptr.
  const IommuUnit* iommu_of(const Group& group) const;
};

}  // namespace iovamap
