// Will this VM start? Every range QEMU will DMA-map for a VM (vm_layout.h) checked against the
// container of its assigned devices' groups, with the kernel's MAP_DMA verdict, the message
// QEMU prints, whether it stops the VM, and the smallest change to the VM that makes it pass,
// found by checking the changed VM again.
//
// Example:
//   VmCheckHost h{.host = &loaded.host, .policy = loaded.policy, .group_ids = {12},
//                 .cpu = {46, CpuVendor::kIntel, "/proc/cpuinfo"}, .bars = bars};
//   Result<VmCheckReport> r = check_vm(vm, h);
//   if (!r) return r.error();          // bad input, or kRefused: the container itself fails
//   r->verdicts[2].mapping.name;       // "ivshmem looking-glass BAR 2"
//   r->verdicts[2].qemu_message;       // "vfio_dma_map(..., 0x380000000000, ...) = -22 (...)"
//   r->fix->changes[0].text;           // "-cpu host,host-phys-bits-limit=39"
//
// A fix is searched for, in this order, each step kept only when it leaves fewer failures:
// capping the vCPU's physical address bits (the firmware's 64-bit window follows them), the
// vIOMMU's aw-bits, a machine type and vCPU that move RAM above the AMD HyperTransport range,
// a smaller hotplug region, less RAM. `VmFix::verified` says the changed VM passes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "iovamap/container.h"
#include "iovamap/host.h"
#include "iovamap/mapping_check.h"
#include "iovamap/policy.h"
#include "iovamap/vm_config.h"
#include "iovamap/vm_host.h"
#include "iovamap/vm_layout.h"

namespace iovamap {

// The host side of the check.
struct VmCheckHost {
  const Host* host = nullptr;
  Policy policy = Policy::kEffective;
  std::vector<uint32_t> group_ids;  // the assigned devices' groups, in attach order
  VmHostCpu cpu;
  std::vector<VmBar> bars;  // the assigned devices' memory BARs
};

struct VmMappingVerdict {
  VmMapping mapping;
  MappingVerdict verdict;
  // What QEMU prints when it is refused, in its words (pointers elided as "..."); empty when
  // accepted.
  std::string qemu_message;
};

struct VmChange {
  enum class Kind : uint8_t { kPhysBits, kAwBits, kMachine, kCpuModel, kMaxmem, kRam };
  Kind kind = Kind::kPhysBits;
  uint64_t value = 0;
  std::string text;  // in the VM's own format: a QEMU option, a libvirt element, a Proxmox line
  std::string why;
};

struct VmFix {
  std::vector<VmChange> changes;
  bool verified = false;  // the changed VM passes the check
  VmConfig fixed;
  std::vector<std::string> caveats;
};

struct VmCheckReport {
  VmConfig vm;
  VmLayout layout;
  ContainerReport container;
  std::vector<VmMappingVerdict> verdicts;
  // A vIOMMU whose aw-bits the host cannot back, in QEMU's words; `viommu_fatal` when that QEMU
  // (9.1+) refuses to start.
  std::optional<std::string> viommu_problem;
  bool viommu_fatal = false;
  std::optional<VmFix> fix;
  std::vector<std::string> notes;

  // No fatal refusal and QEMU does not refuse the layout: the VM starts.
  bool starts() const;
  // Nothing refused at all.
  bool clean() const;
};

// Checks `vm` against the host (see the file comment). Errors: the layout's input errors
// (vm_layout), bad input about the groups, and the container's refusal (kRefused, e.g. EPERM:
// MSIs not isolated) with the kernel's errno.
Result<VmCheckReport> check_vm(const VmConfig& vm, const VmCheckHost& host);

// The host's IOMMU address width as QEMU 9.1+ reads it for a vIOMMU: the bits needed for the
// last usable address of the container (0 when none).
unsigned host_aw_bits(const ContainerReport& container);

}  // namespace iovamap
