// Device DMA limits, each with where it came from.
//
// A device that drives fewer than 64 address bits cannot use IOVAs above 2^bits - 1, and the
// kernel tells VFIO users nothing about it. The only number Linux shows, sysfs dma_mask_bits,
// belongs to whichever driver set it last: under vfio-pci it is the PCI default of 32 or a
// leftover from the previous driver. So iovamap takes limits from trustworthy sources only, in
// this precedence:
//
//   1. declared by the user (topology file `dma-bits`, `--dma-limit BDF=BITS`);
//   2. the built-in table of devices known to address less than 64 bits (known_devices.h);
//   3. the mask a kernel driver other than vfio-pci set: valid for that driver's kernel DMA
//      only, so it is reported but does not limit a VFIO container;
//   4. otherwise unknown.
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

#include "iovamap/host.h"
#include "iovamap/region.h"

namespace iovamap {

enum class DmaLimitSource : uint8_t {
  kDeclared,      // the user said so
  kKnownDevice,   // iovamap's built-in table, with a citation
  kKernelDriver,  // the mask a non-VFIO kernel driver set (kernel DMA only)
  kUnknown,
};
// "declared", "known-device", "kernel-driver", "unknown".
std::string_view source_name(DmaLimitSource source);

struct DmaLimit {
  std::optional<unsigned> bits;  // the device addresses [0, 2^bits - 1]; empty when unknown
  DmaLimitSource source = DmaLimitSource::kUnknown;
  // True when the limit binds a VFIO/iommufd user of the device (declared or known device).
  bool applies_to_vfio = false;
  std::string detail;  // why: "declared by the user", "ath10k_pci: drivers/...: DMA_BIT_MASK(32)"
  // dma_mask_bits as read while the device was bound to vfio-pci or to no driver: not a limit.
  std::optional<unsigned> stale_hint_bits;

  // The highest address the device can reach under this limit: 2^bits - 1, or 2^64-1 when the
  // limit is unknown or 64 bits or more.
  uint64_t limit_address() const;
};

// The limit of `device` by the precedence above. Never fails: unknown is an answer.
DmaLimit dma_limit(const Device& device);

// True when `driver` is a userspace-passthrough driver whose dma_mask_bits says nothing about
// the device (vfio-pci and its variants, e.g. "mlx5_vfio_pci"; uio drivers) or is empty.
bool is_passthrough_driver(std::string_view driver);

// The reserved region above the device's limit, [2^bits, 2^64-1], typed kReserved with
// Origin::kDmaLimit provenance naming the device and the source; nullopt when the limit does not
// apply to VFIO or is 64 bits or more.
std::optional<ReservedRegion> dma_limit_region(const Device& device, const DmaLimit& limit);

}  // namespace iovamap
