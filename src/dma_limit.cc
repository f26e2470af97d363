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
    case DmaLimitSource::kFirmware:
      return "firmware";
  }
  return "unknown";
}

uint64_t DmaLimit::limit_address() const {
  if (last) return *last;
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

namespace {

// The address bits a limit needs: the kernel's DMA_BIT_MASK(ilog2(last) + 1) width.
unsigned bits_for(uint64_t last) {
  return last == 0 ? 1 : 64 - __builtin_clzll(last);
}

// The device's own limit: declared by the user, else the built-in table.
std::optional<DmaLimit> own_limit(const Device& device) {
  DmaLimit limit;
  if (device.declared_dma_bits) {
    limit.bits = device.declared_dma_bits;
    limit.source = DmaLimitSource::kDeclared;
    limit.applies_to_vfio = true;
    limit.detail = device.declared_dma_source.empty() ? "declared by the user"
                                                      : "declared by " + device.declared_dma_source;
    return limit;
  }
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
  return std::nullopt;
}

// The firmware's bus DMA limit when it limits anything (below 2^64 - 1).
std::optional<DmaLimit> firmware_limit(const Device& device) {
  const std::optional<FirmwareDmaLimit>& fw = device.firmware_dma_limit;
  if (!fw || !fw->last || *fw->last == kMaxAddress) return std::nullopt;
  DmaLimit limit;
  limit.bits = bits_for(*fw->last);
  if (*limit.bits >= 64 || *fw->last != (uint64_t{1} << *limit.bits) - 1) limit.last = fw->last;
  limit.source = DmaLimitSource::kFirmware;
  limit.applies_to_vfio = true;
  limit.detail = fw->detail;
  return limit;
}

std::string also_text(const DmaLimit& l) {
  std::string what = l.last ? "up to " + hex(*l.last) : std::to_string(*l.bits) + "-bit";
  return std::string(source_name(l.source)) + ": " + what + ", " + l.detail;
}

}  // namespace

DmaLimit dma_limit(const Device& device) {
  bool passthrough = is_passthrough_driver(device.driver);
  std::optional<DmaLimit> own = own_limit(device);
  std::optional<DmaLimit> fw = firmware_limit(device);
  DmaLimit limit;
  // 1 and 2: the device's own limit and the firmware's; the lower binds (the device's own on a
  // tie), the other is shown beside it.
  if (own && fw) {
    bool firmware_lower = fw->limit_address() < own->limit_address();
    limit = firmware_lower ? *fw : *own;
    limit.also.push_back(also_text(firmware_lower ? *own : *fw) + " (not binding: higher)");
  } else if (own) {
    limit = *own;
  } else if (fw) {
    limit = *fw;
    if (!passthrough && device.dma_mask_bits)
      limit.also.push_back("kernel-driver: dma_mask_bits " + std::to_string(*device.dma_mask_bits) +
                           " set by " + device.driver + " (kernel DMA only)");
  } else if (!passthrough && device.dma_mask_bits) {
    // 3. The mask a kernel driver set: true for that driver's DMA, not for a VFIO user.
    limit.bits = device.dma_mask_bits;
    limit.source = DmaLimitSource::kKernelDriver;
    limit.applies_to_vfio = false;
    limit.detail = "dma_mask_bits set by kernel driver " + device.driver + " (kernel DMA only)";
  }
  if (passthrough && device.dma_mask_bits) limit.stale_hint_bits = device.dma_mask_bits;
  const std::optional<FirmwareDmaLimit>& declared = device.firmware_dma_limit;
  if (declared && !declared->last) limit.also.push_back("firmware: " + declared->detail);
  if (declared && declared->last && *declared->last == kMaxAddress)
    limit.also.push_back("firmware: no limit, " + declared->detail);
  if (limit.source != DmaLimitSource::kUnknown) return limit;
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
  if (!limit.applies_to_vfio || !limit.bits || limit.limit_address() == kMaxAddress)
    return std::nullopt;
  const std::string what =
      limit.last ? "DMA up to " + hex(*limit.last) : std::to_string(*limit.bits) + "-bit DMA";
  return ReservedRegion::make(
      Range{limit.limit_address() + 1, kMaxAddress}, RegionType::kReserved,
      Provenance{Origin::kDmaLimit,
                 "device " + device.name + ": " + what + " (" +
                     (limit.source == DmaLimitSource::kDeclared
                          ? limit.detail
                          : std::string(source_name(limit.source)) + ": " + limit.detail) +
                     ")",
                 device.name});
}

}  // namespace iovamap
