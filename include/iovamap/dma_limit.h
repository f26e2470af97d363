// Device DMA limits, each with where it came from.
//
// A device that drives fewer than 64 address bits cannot use IOVAs above 2^bits - 1, and the
// kernel tells VFIO users nothing about it. The only number Linux shows, sysfs dma_mask_bits,
// belongs to whichever driver set it last: under vfio-pci it is the PCI default of 32 or a
// leftover from the previous driver. So iovamap takes limits from trustworthy sources only, in
// this precedence:
//
//   1. the device's own limit: declared by the user (topology file `dma-bits`,
//      `--dma-limit BDF=BITS`), else the built-in table of devices known to address less than
//      64 bits (known_devices.h);
//   2. the firmware's bus DMA limit (IORT memory address size limit, device-tree dma-ranges:
//      Device::firmware_dma_limit), the interconnect's limit, valid under vfio-pci too. When the
//      device's own limit exists as well, the lower binds and the other is listed in `also`;
//   3. the mask a kernel driver other than vfio-pci set: valid for that driver's kernel DMA
//      only, so it is reported but does not limit a VFIO container;
//   4. otherwise unknown.
// A firmware limit the kernel ignores (a root complex node below revision 1, a limit of 0) is
// listed in `also` as "declared, ignored by the kernel (reason)" and limits nothing.
// A dma_mask_bits read while the device is bound to vfio-pci (or to no driver) is never a
// limit: it is reported as a stale hint.
//
// Example:
//   Device nic{.name = "0000:01:00.0", .driver = "vfio-pci", .dma_mask_bits = 64};
//   DmaLimit l = dma_limit(nic);
//   l.source;         // DmaLimitSource::kUnknown
//   l.stale_hint_bits; // 64, "left by a previous driver, or the PCI default"
//
// Sharp edge: `bits` is the number of address bits; the highest usable address is
// 2^bits - 1 (`limit_address()`), and 64 bits means no limit.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/host.h"
#include "iovamap/region.h"

namespace iovamap {

// The order of the values is not the precedence (kFirmware came last; see the file comment).
enum class DmaLimitSource : uint8_t {
  kDeclared,      // the user said so
  kKnownDevice,   // iovamap's built-in table, with a citation
  kKernelDriver,  // the mask a non-VFIO kernel driver set (kernel DMA only)
  kUnknown,
  kFirmware,  // the firmware's bus DMA limit (IORT, device-tree dma-ranges)
};
// "declared", "known-device", "kernel-driver", "unknown", "firmware".
std::string_view source_name(DmaLimitSource source);

struct DmaLimit {
  std::optional<unsigned> bits;  // the device addresses [0, 2^bits - 1]; empty when unknown
  // The highest address exactly when it is not 2^bits - 1 (a dma-ranges window ending at
  // 0xbfffffff: `bits` 32, `last` 0xbfffffff); unset otherwise.
  std::optional<uint64_t> last;
  DmaLimitSource source = DmaLimitSource::kUnknown;
  // True when the limit binds a VFIO/iommufd user of the device (declared, known device,
  // firmware).
  bool applies_to_vfio = false;
  std::string detail;  // why: "declared by the user", "ath10k_pci: drivers/...: DMA_BIT_MASK(32)"
  // dma_mask_bits as read while the device was bound to vfio-pci or to no driver: not a limit.
  std::optional<unsigned> stale_hint_bits;
  // The other limits known that do not bind, each "source: detail": the higher of the
  // device's own and the firmware's, a firmware limit the kernel ignores, a kernel driver's
  // mask below a firmware limit.
  std::vector<std::string> also;

  // The highest address the device can reach under this limit: `last` when set, else
  // 2^bits - 1, or 2^64-1 when the limit is unknown or 64 bits or more.
  uint64_t limit_address() const;
};

// The limit of `device` by the precedence above. Never fails: unknown is an answer.
DmaLimit dma_limit(const Device& device);

// True when `driver` is a userspace-passthrough driver whose dma_mask_bits says nothing about
// the device (vfio-pci and its variants, e.g. "mlx5_vfio_pci"; uio drivers) or is empty.
bool is_passthrough_driver(std::string_view driver);

// The reserved region above the device's limit, [limit_address() + 1, 2^64-1], typed kReserved
// with Origin::kDmaLimit provenance naming the device and the source; nullopt when the limit
// does not apply to VFIO or reaches 2^64-1.
std::optional<ReservedRegion> dma_limit_region(const Device& device, const DmaLimit& limit);

}  // namespace iovamap
