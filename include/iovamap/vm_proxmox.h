// Reading a VM from a Proxmox VE configuration: `qm config VMID` output or the file
// /etc/pve/qemu-server/VMID.conf (the same "key: value" lines).
//
// Read (qemu-server's option schema, PVE 7 and 8): machine (type and viommu=), memory (MiB, or
// current=/max= of PVE 8.1), hotplug (memory), cpu (type and phys-bits=), bios, hostpciN
// (host addresses, ';'-separated), ivshmem (size= MiB) and args (QEMU arguments,
// vm_qemu_args.h). Other keys do not move a guest-physical address and are skipped; lines
// from the first [section] on (snapshots, pending changes) are not the running
// configuration and are not read.
//
// Example:
//   Result<VmConfig> vm = parse_proxmox_config("bios: ovmf\ncpu: host\nhostpci0: 01:00,pcie=1\n"
//                                              "machine: q35\nmemory: 16384\n", "100.conf");
//
// Sharp edges (labelled in the VM's notes when they apply): with memory hotplug, Proxmox
// starts the VM with 1 GiB of static memory and plugs the rest as DIMMs; the hotplug region
// is max= or, without it, 4 TiB (qemu-server's default). The default CPU type is PVE 8's
// x86-64-v2-AES (qemu64 with more flags: AMD's vendor string, an assumption). hostpciN mapping= (a
// cluster resource mapping) cannot be resolved from the VM file and is an error.
#pragma once

#include <string>
#include <string_view>

#include "iovamap/result.h"
#include "iovamap/vm_config.h"

namespace iovamap {

// Reads a Proxmox VM configuration. Errors are "FILE:LINE: ...": a line that is not
// "key: value", a value that does not parse or overflows, a machine that is not x86 PC.
Result<VmConfig> parse_proxmox_config(std::string_view text, const std::string& file);

}  // namespace iovamap
