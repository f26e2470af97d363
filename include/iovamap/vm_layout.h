// The guest-physical layout QEMU builds for a VM, and what of it VFIO will DMA-map.
//
// Rule by rule, each citing where it lives in QEMU (or the guest firmware) and the version it
// depends on (docs/vm-check.md lists them with their sources):
//   - the vCPU's physical address bits (target/i386/cpu.c, host-cpu.c);
//   - RAM below and above 4 GiB for q35 and i440fx, with max-ram-below-4g (hw/i386/pc_q35.c
//     pc_q35_init, pc_piix.c pc_init1);
//   - the AMD 1 TiB relocation of RAM above 4 GiB (hw/i386/pc.c pc_memory_init, QEMU 7.1+,
//     machines 7.1+ with an AMD vCPU) and QEMU's own "phys-bits too low" refusal;
//   - the memory-hotplug region and its DIMMs (pc.c pc_memory_init);
//   - the 64-bit PCI window the firmware picks, and the BARs in it: OVMF (edk2-stable202211,
//     Debian 12's, with its dynamic window) or SeaBIOS 1.16.2 (Debian 12's), each labelled as a
//     prediction that depends on a firmware version iovamap cannot see.
//
// Example:
//   Result<VmLayout> l = vm_layout(vm, host_cpu, bars);
//   for (const VmMapping& m : l->mappings) check(m.range);    // ram-below-4g, ram-above-4g, ...
//   l->phys_bits;                                              // 46 (-cpu host on a 46-bit host)
//   l->pci64_window;                                           // [0x380000000000, 0x3fffffffffff]
//
// Sharp edges: addresses of BARs inside the 64-bit window are a packing prediction (largest
// first, each aligned to its size, from the window's base); the window itself is the
// firmware's rule. A vIOMMU does not change what is mapped at start (translation is off
// until the guest turns it on); its aw-bits are checked apart (vm_check.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "iovamap/range.h"
#include "iovamap/result.h"
#include "iovamap/vm_config.h"
#include "iovamap/vm_host.h"

namespace iovamap {

enum class VmMappingKind : uint8_t {
  kRam,          // guest RAM (ram-below-4g, ram-above-4g)
  kRom,          // read-only RAM QEMU maps too (SeaBIOS's pc.bios)
  kDimm,         // plugged DIMMs in the hotplug region
  kRamBar,       // a RAM-backed BAR (ivshmem)
  kAssignedBar,  // an assigned device's BAR (peer-to-peer)
};
// "RAM", "ROM", "DIMM", "RAM-backed BAR", "assigned BAR".
std::string_view vm_mapping_kind_name(VmMappingKind kind);

// One range QEMU asks VFIO to DMA-map.
struct VmMapping {
  std::string name;  // "ram-above-4g", "dimm0", "ivshmem looking-glass BAR 2", "0000:01:00.0 BAR 0"
  VmMappingKind kind = VmMappingKind::kRam;
  Range range;
  // A refusal stops the VM: RAM, ROM and DIMMs when the container is set up, a RAM-backed BAR
  // when the firmware programs it. Otherwise (assigned BARs) QEMU warns and runs on, without
  // peer-to-peer DMA to that BAR.
  bool fatal = true;
  // Mapped when QEMU sets up the container (false: later, when the firmware places a BAR).
  bool at_start = true;
  // The address is the guest firmware's choice: a prediction under the stated assumption.
  bool firmware_placed = false;
  std::string rule;  // where the address comes from, with its source
  size_t line = 0;   // the VM file's line it comes from
};

struct VmLayout {
  unsigned phys_bits = 40;
  std::string phys_bits_rule;
  uint64_t below_4g = 0;
  uint64_t above_4g = 0;
  uint64_t above_4g_start = uint64_t{1} << 32;
  std::string split_rule;
  bool amd_relocated = false;          // RAM above 4 GiB starts at 1 TiB
  std::optional<Range> device_memory;  // the hotplug region
  uint64_t pci_hole64_size = 0;
  std::optional<Range> pci64_window;  // where the firmware puts 64-bit BARs
  std::string pci64_rule;
  std::vector<VmMapping> mappings;  // in the order QEMU maps them
  // What QEMU itself refuses before VFIO maps anything (e.g. phys-bits too low), as it says it.
  std::optional<std::string> qemu_refusal;
  std::vector<std::string> assumptions;  // firmware and version assumptions made
};

// The layout of `vm` on a host whose CPU is `host_cpu`, with `bars` the memory BARs of the
// assigned devices. Errors (EINVAL) are settings QEMU itself rejects as input: maxmem below
// the RAM size, max-ram-below-4g above 4 GiB; and -cpu host without the host's phys bits.
Result<VmLayout> vm_layout(const VmConfig& vm, const VmHostCpu& host_cpu,
                           const std::vector<VmBar>& bars);

}  // namespace iovamap
