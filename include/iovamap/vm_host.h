// What the VM check needs of the host besides its IOMMU groups: the host CPU (vendor and
// physical address bits, which `-cpu host` passes to the guest) and the BARs of the devices it
// assigns (their sizes decide where the guest firmware puts them).
//
// Both come from the files a live host has and a snapshot captures: /proc/cpuinfo ("vendor_id"
// and "address sizes : 46 bits physical, 48 bits virtual", the first processor's) and
// /sys/bus/pci/devices/DEV/resource (one "start end flags" line per resource; lines 0-5 are
// the BARs, IORESOURCE_MEM_64 marks a 64-bit BAR, include/linux/ioport.h). A topology has
// neither: the command takes them as options then.
//
// Example:
//   Result<VmHostCpu> cpu = read_host_cpu(reader);        // {46, kIntel, "/proc/cpuinfo"}
//   Result<std::vector<VmBar>> bars = read_device_bars(reader, "0000:01:00.0");
//   bars->front().size;                                    // 0x400000000 (16 GiB, ReBAR)
//
// Sharp edge: a file that is missing is ENOENT (the caller decides whether that is fatal); a
// malformed one is EINVAL naming the file and line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/result.h"
#include "iovamap/sysfs_reader.h"
#include "iovamap/vm_config.h"

namespace iovamap {

struct VmHostCpu {
  std::optional<unsigned> phys_bits;
  CpuVendor vendor = CpuVendor::kUnknown;
  std::string source;  // "/proc/cpuinfo", "SNAP/proc/cpuinfo", "--host-phys-bits"
};

// One memory BAR of an assigned device.
struct VmBar {
  std::string device;  // "0000:01:00.0"
  unsigned index = 0;  // 0-5
  uint64_t size = 0;
  bool is64 = false;
  bool prefetch = false;
};

// Parses a cpuinfo text (its first processor). EINVAL naming `name` and the line when an
// "address sizes" line is malformed; fields that are absent stay unset.
Result<VmHostCpu> parse_cpuinfo(std::string_view text, const std::string& name);
// The host CPU from proc/cpuinfo through `reader`.
Result<VmHostCpu> read_host_cpu(SysfsReader& reader);

// Parses a PCI `resource` file: the memory BARs (lines 0-5 with IORESOURCE_MEM set and a size),
// in order. EINVAL naming `name` and the line.
Result<std::vector<VmBar>> parse_pci_resource(std::string_view text, const std::string& device,
                                              const std::string& name);
// The memory BARs of `device` from sys/bus/pci/devices/DEVICE/resource through `reader`.
Result<std::vector<VmBar>> read_device_bars(SysfsReader& reader, const std::string& device);

}  // namespace iovamap
