// Discovery: reading a Linux host (live, or a snapshot of one) into a `Host`.
//
// Reads, through a SysfsReader (so the same code serves `/` and a snapshot directory):
//   proc/sys/kernel/osrelease                        the kernel version
//   sys/class/iommu/<unit> -> ...                    IOMMU units; their driver from the
//     intel-iommu/{cap,ecap}, amd-iommu/{cap,features}  directory's shape, and the files below
//                                                    it that the driver's facts name
//                                                    (src/iommu_driver_registry.h)
//   sys/kernel/iommu_groups/<n>/{type,reserved_regions,devices/<dev> -> ...}
//   <device>/{vendor,device,class,dma_mask_bits,consistent_dma_mask_bits}, <device>/driver ->,
//   <device>/iommu ->                                each device of each group
//   <device>/msi_irqs/<n>, sys/kernel/irq/<n>/chip_name   MSI isolation (msi.h): a device's
//                                                    own vectors, and every irq's chip
//   proc/cmdline                                     IOMMU driver options and module
//                                                    parameters (kernel_cmdline.h)
//   sys/module/vfio_iommu_type1/parameters/dma_entry_limit   the type1 mapping budget
//   sys/module/{vfio_iommu_type1,iommufd}/parameters/allow_unsafe_interrupts   (Y/N; else
//                                                    the command line's module.param=)
//   sys/firmware/memmap/<n>/{type,end}               the top of RAM
// `iovamap snapshot` records exactly these reads (snapshot.h).
//
// Example:
//   auto reader = open_root_reader("/");
//   Result<Discovery> d = discover(**reader, "live host");
//   for (const Group& g : d->host.groups) ...
//
// Sharp edges:
//   - A host without IOMMU groups (no IOMMU, or it is off) is not an error: `groups` is empty.
//   - Files that a kernel may lack (dma_mask_bits on non-PCI devices, an
//     unbound device's driver link) leave their fields empty; files that exist but cannot be
//     parsed are errors naming the file and line.
//   - Firmware regions are not in sysfs: a group's reserved_regions are kept as
//     `Group::observed_regions`; explaining them is the policy layer's job.
//   - Devices are listed in PCI address order, which is the order a PCI bus scan adds them to
//     their group on the kernels iovamap models.
#pragma once

#include <string>
#include <vector>

#include "iovamap/host.h"
#include "iovamap/result.h"
#include "iovamap/sysfs_reader.h"

namespace iovamap {

struct Discovery {
  Host host;
  // What was read but could not be used, each naming its file: "…/osrelease missing: kernel
  // version assumed 6.18".
  std::vector<std::string> warnings;
};

// Reads the host below `reader`'s root. `source` goes to Host::source ("live host",
// "snapshot DIR"). Fails on unreadable or malformed files, naming them.
Result<Discovery> discover(SysfsReader& reader, std::string source);

// Parses a number as sysfs prints it: "0x8086\n" (hex with 0x), "64\n" (decimal) or, when
// `bare_hex`, "d2008c22260206\n" (Intel cap/ecap). One trailing newline allowed. `file`
// names the file in errors ("FILE:1: ...").
Result<uint64_t> parse_sysfs_number(std::string_view text, const std::string& file,
                                    bool bare_hex = false);

// True for a PCI address "DDDD:BB:DD.F" (lower-case hex), the name of a PCI device in sysfs.
bool is_pci_address(std::string_view name);

}  // namespace iovamap
