// A virtual machine as the VM check sees it: what decides where QEMU puts guest memory and
// where the guest firmware puts PCI BARs, read from a QEMU command line (vm_qemu_args.h), a
// libvirt domain XML (vm_libvirt.h) or a Proxmox VM configuration (vm_proxmox.h).
//
// Only what moves a guest-physical address is kept: machine type and version, RAM, the
// memory-hotplug region and plugged DIMMs, the vCPU's vendor and physical address bits, the
// firmware, RAM-backed BARs (ivshmem), the assigned (vfio-pci) devices and a vIOMMU. Every
// setting remembers the line it came from, so an answer and a fix can point at it.
//
// Example:
//   VmConfig vm;
//   vm.format = VmFormat::kQemu;
//   vm.machine = MachineType{.family = MachineFamily::kQ35, .major = 7, .minor = 2};
//   vm.ram_size = 16 * kGiB;
//   vm.cpu.model = "host";
//   vm.host_devices.push_back({.address = "0000:01:00.0", .line = 3});
//   Result<uint64_t> s = parse_qemu_size("16G", 'M');   // 16 GiB; "16" alone is 16 MiB
//
// Sharp edges: a machine without a version ("q35", "pc") is the newest this QEMU knows
// (`MachineType::major == 0`): the check says which version it assumed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/range.h"
#include "iovamap/result.h"

namespace iovamap {

inline constexpr uint64_t kMiB = uint64_t{1} << 20;
inline constexpr uint64_t kGiB = uint64_t{1} << 30;
inline constexpr uint64_t kTiB = uint64_t{1} << 40;

// The format the VM came in, which is also the format a fix is written in.
enum class VmFormat : uint8_t { kQemu, kLibvirt, kProxmox };
// "QEMU command line", "libvirt domain XML", "Proxmox VM configuration".
std::string_view vm_format_name(VmFormat format);

enum class MachineFamily : uint8_t { kQ35, kI440fx };

struct MachineType {
  MachineFamily family = MachineFamily::kI440fx;  // QEMU's default machine is "pc"
  int major = 0;  // 0: no version given (the alias: the newest machine of the QEMU that runs)
  int minor = 0;
  std::string name = "pc";  // as written: "pc-q35-7.2", "q35", "pc-i440fx-8.1+pve0"

  // Whether the machine's version is at least major.minor (an unversioned one always is).
  bool at_least(int want_major, int want_minor) const;
};

// Parses a QEMU machine type name: "q35", "pc", "pc-q35-7.2", "pc-i440fx-8.1", "pc-1.7",
// Proxmox's "pc-q35-8.1+pve0" and RHEL's "pc-q35-rhel9.4.0". EINVAL for any other machine
// (microvm, isapc, non-x86), naming it.
Result<MachineType> parse_machine_type(std::string_view name);

enum class CpuVendor : uint8_t { kUnknown, kIntel, kAmd };
// "Intel", "AMD", "unknown".
std::string_view cpu_vendor_name(CpuVendor vendor);

// The vCPU: its model and the physical-address-bit properties (target/i386/cpu.c).
struct VmCpu {
  std::string model = "qemu64";                  // QEMU's default x86_64 model
  std::optional<unsigned> phys_bits;             // phys-bits=N
  std::optional<bool> host_phys_bits;            // host-phys-bits=on|off (unset: the default)
  std::optional<unsigned> host_phys_bits_limit;  // host-phys-bits-limit=N
  size_t line = 0;  // where the CPU is declared (0: nowhere, the default)

  // The model takes the host's CPU (host, max): its vendor and, by default, its phys-bits.
  bool is_host_model() const;
  // The vendor the guest sees: the host's for host/max, else the model's own (qemu64 and the
  // EPYC/Opteron/phenom/athlon models are AMD; the others Intel).
  CpuVendor vendor(CpuVendor host_vendor) const;
  // Whether the model offers 1 GiB pages (pdpe1gb), which OVMF needs to use more than 40
  // bits: host/max and the server models; an assumption for the others (false).
  bool has_1g_pages() const;
};

enum class GuestFirmware : uint8_t { kSeabios, kOvmf };
// "SeaBIOS", "OVMF".
std::string_view firmware_name(GuestFirmware firmware);

// A PCI device whose BAR is RAM (ivshmem-plain / ivshmem-doorbell BAR 2, 64-bit prefetchable):
// VFIO maps it once the firmware programs the BAR, and a refusal then is fatal.
struct VmRamBar {
  std::string id;     // "looking-glass", the memory backend's id, ...
  uint64_t size = 0;  // bytes, a power of two
  size_t line = 0;
};

// A vfio-pci device, by host PCI address as the user wrote it ("0000:01:00.0", "01:00.0", or
// Proxmox's "01:00" for every function).
struct VmHostDevice {
  std::string address;
  size_t line = 0;
};

// A DIMM (pc-dimm, nvdimm or virtio-mem plugged memory) in the hotplug region.
struct VmDimm {
  std::string id;
  uint64_t size = 0;
  size_t line = 0;
  // Where it must go (pc-dimm/nvdimm addr=, libvirt <address type='dimm' base=>); unset: the
  // first free place in the hotplug region.
  std::optional<uint64_t> addr;
};

// An emulated IOMMU in front of the assigned devices.
struct VmViommu {
  std::string model;                // "intel-iommu", "virtio-iommu", "amd-iommu"
  std::optional<unsigned> aw_bits;  // as given; unset: the device's default
  size_t line = 0;
};

struct VmConfig {
  VmFormat format = VmFormat::kQemu;
  std::string file;  // the file it was read from, for messages ("<argv>" for arguments)

  MachineType machine;
  size_t machine_line = 0;
  uint64_t ram_size = 128 * kMiB;  // QEMU's default -m
  size_t ram_line = 0;
  std::optional<uint64_t> max_ram_below_4g;  // -machine max-ram-below-4g=
  uint64_t maxmem = 0;                       // -m maxmem= (0: no hotplug region)
  uint64_t slots = 0;                        // -m slots=
  std::vector<VmDimm> dimms;
  std::optional<uint64_t> pci_hole64_size;  // -global q35-pcihost.pci-hole64-size=

  VmCpu cpu;
  GuestFirmware firmware = GuestFirmware::kSeabios;
  size_t firmware_line = 0;
  std::optional<uint64_t> ovmf_mmio64_mb;  // -fw_cfg opt/ovmf/X-PciMmio64Mb (MiB)

  std::vector<VmRamBar> ram_bars;
  std::vector<VmHostDevice> host_devices;
  std::optional<VmViommu> viommu;
  // Things read but not modelled, or defaults taken, for the user to know.
  std::vector<std::string> notes;
};

// A QEMU size as -m and memory backends take it: a decimal (or 0x hex) number with an
// optional fraction and an optional suffix B, K, M, G, T, P, E (powers of 1024, either case);
// without a suffix the unit is `default_unit` ('B' bytes, 'M' MiB as -m has it). EINVAL on
// syntax, ERANGE when it passes 2^64-1.
Result<uint64_t> parse_qemu_size(std::string_view text, char default_unit);

}  // namespace iovamap
