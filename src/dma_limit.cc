#include "iovamap/dma_limit.h"

#include "iovamap/known_devices.h"

namespace iovamap {

std::string_view source_name(DmaLimitSource source) {
  switch (source) {
    case DmaLimitSource::kDeclared:
      return "declared";
    case DmaLimitSource::kKnownDevice:
      return "known-device";
    case DmaLimitSource::kKernelDriver:
      return "kernel-driver";
    case DmaLimitSource::kUnknown:
      return "unknown";
  }
  return "unknown";
}

uint64_t DmaLimit::limit_address() const {
  if (!bits || *bits >= 64) return kMaxAddress;
  return (uint64_t{1} << *bits) - 1;
}

bool is_passthrough_driver(std::string_view driver) {
  if (driver.empty()) return true;
  // vfio-pci and the vendor variants built on vfio-pci-core ("mlx5_vfio_pci",
  // "hisi_acc_vfio_pci", "nvgrace_gpu_vfio_pci", ...), and the uio drivers DPDK uses.
  return driver == "vfio-pci" || driver.find("vfio_pci") != std::string_view::npos ||
         driver.find("vfio-pci") != std::string_view::npos || driver == "uio_pci_generic" ||
         driver == "igb_uio" || driver == "pci-stub";
}

DmaLimit dma_limit(const Device& device) {
  DmaLimit limit;
  bool passthrough = is_passthrough_driver(device.driver);
  if (passthrough && device.dma_mask_bits) limit.stale_hint_bits = device.dma_mask_bits;

  // 1. Declared by the user.
  if (device.declared_dma_bits) {
    limit.bits = device.declared_dma_bits;
    limit.source = DmaLimitSource::kDeclared;
    limit.applies_to_vfio = true;
    limit.detail = device.declared_dma_source.empty() ? "declared by the user"
                                                      : "declared by " + device.declared_dma_source;
    return limit;
  }
  // 2. The built-in table.
  if (device.is_pci) {
    if (const KnownDmaLimit* known =
            find_known_dma_limit(device.vendor, device.device_id, device.class_code)) {
      limit.bits = known->bits;
      limit.source = DmaLimitSource::kKnownDevice;
      limit.applies_to_vfio = true;
      limit.detail = std::string(known->driver) + ": " + std::string(known->citation);
      return limit;
    }
  }
  // 3. The mask a kernel driver set: true for that driver's DMA, not for a VFIO user.
  if (!passthrough && device.dma_mask_bits) {
    limit.bits = device.dma_mask_bits;
    limit.source = DmaLimitSource::kKernelDriver;
    limit.applies_to_vfio = false;
    limit.detail = "dma_mask_bits set by kernel driver " + device.driver + " (kernel DMA only)";
    return limit;
  }
  // 4. Unknown.
  limit.detail = limit.stale_hint_bits
                     ? "unknown; dma_mask_bits " + std::to_string(*limit.stale_hint_bits) +
                           " is a stale hint (" +
                           (device.driver.empty() ? std::string("no driver bound")
                                                  : "bound to " + device.driver) +
                           ": the PCI default or what a previous driver left)"
                     : "unknown";
  return limit;
}

std::optional<ReservedRegion> dma_limit_region(const Device& device, const DmaLimit& limit) {
  if (!limit.applies_to_vfio || !limit.bits || *limit.bits >= 64) return std::nullopt;
  uint64_t first = uint64_t{1} << *limit.bits;
  return ReservedRegion::make(
      Range{first, kMaxAddress}, RegionType::kReserved,
      Provenance{Origin::kDmaLimit,
                 "device " + device.name + ": " + std::to_string(*limit.bits) + "-bit DMA (" +
                     (limit.source == DmaLimitSource::kDeclared
                          ? limit.detail
                          : std::string(source_name(limit.source)) + ": " + limit.detail) +
                     ")",
                 device.name});
}

}  // namespace iovamap
