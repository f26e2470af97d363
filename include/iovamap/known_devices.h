// The built-in table of PCI devices known to address less than 64 bits.
//
// iovamap reports every device's DMA limit together with where it comes from. After a limit
// the user declared, the next source is this table: PCI functions whose Linux driver sets a
// DMA mask narrower than 64 bits (dma_set_mask / dma_set_mask_and_coherent with
// DMA_BIT_MASK(n), or an equivalent literal), because the hardware cannot generate higher
// addresses. Every entry names the driver and cites the kernel source file and function where
// the mask is set; docs/known-devices.md lists the kernel versions read and the families left
// out on purpose.
//
// Example:
//   const KnownDmaLimit* k = find_known_dma_limit(0x1002, 0x67df, 0x030000);  // Polaris10
//   if (k) {
//     k->bits;                 // 40
//     k->driver;               // "amdgpu"
//     known_dma_last(*k);      // 0xffffffffff
//   }
//
// Sharp edges:
//   - The table describes the device as its Linux driver drives it. A device passed through to
//     a guest keeps the same hardware limit, but a guest OS with another driver may differ.
//   - Only the vendor, device and class are matched, never the subsystem ids or revision; an
//     entry exists only where those three decide the mask unambiguously.
//   - A class entry (device == kAnyDevice) covers every device of its vendor (or of every vendor
//     when vendor == kAnyVendor) whose class matches; an exact device entry always wins.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace iovamap {

// Wildcards. PCI reads 0xffff from a vendor or device register when no function answers, so no
// real function has either value.
inline constexpr uint16_t kAnyVendor = 0xffff;
inline constexpr uint16_t kAnyDevice = 0xffff;

struct KnownDmaLimit {
  uint16_t vendor;            // PCI vendor id, or kAnyVendor (only with a class match)
  uint16_t device;            // PCI device id, or kAnyDevice with a class match for a family
  uint32_t class_code;        // 24-bit class to match with class_mask, or 0 with class_mask 0
  uint32_t class_mask;        // 0: any class. An exact id carries a class match only where
                              // the id alone is ambiguous (1023:2000: audio or Ethernet)
  unsigned bits;              // the device addresses [0, 2^bits - 1]
  std::string_view driver;    // Linux driver name, e.g. "ath10k_pci"
  std::string_view citation;  // kernel file and function where the mask is set, our words

  friend constexpr bool operator==(const KnownDmaLimit&, const KnownDmaLimit&) = default;
};

// The entries, sorted by (vendor, device, class_code, class_mask); no two share that key.
// Never empty; the storage is static and lives for the whole program.
std::span<const KnownDmaLimit> known_dma_limits();

// The most specific entry matching a PCI function, or nullptr when none does:
//   1. an exact (vendor, device) entry whose class matches (most class_mask bits first);
//   2. else a (vendor, kAnyDevice) entry whose class matches, the one with the most bits in
//      class_mask first;
//   3. else a (kAnyVendor, kAnyDevice) entry whose class matches, most class_mask bits first.
// A class entry matches when (class_code & entry.class_mask) == entry.class_code. `class_code`
// is the 24-bit value of the sysfs `class` file (0x030000 for a VGA controller); higher bits
// are ignored. Queries with vendor or device 0xffff match class entries only.
const KnownDmaLimit* find_known_dma_limit(uint16_t vendor, uint16_t device, uint32_t class_code);

// The highest address the entry's device can generate: 2^bits - 1 (bits is 24..63).
constexpr uint64_t known_dma_last(const KnownDmaLimit& limit) {
  return (uint64_t{1} << limit.bits) - 1;
}

}  // namespace iovamap
