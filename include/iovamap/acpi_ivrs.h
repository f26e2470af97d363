// The ACPI IVRS table (AMD-Vi): IVinfo, the IOMMU definitions (IVHD 10h/11h/40h) with their
// device entries, and the memory definitions (IVMD 20h/21h/22h) firmware asks to keep mapped
// (unity) or out of translation (exclusion).
//
// The AMD driver reads the IVRS early (drivers/iommu/amd/init.c, early_amd_iommu_init):
// IVinfo and the IVHD's EFR image decide features before the registers are read, and every
// IVMD with the unity or exclusion flag becomes a `direct` region for the devices it covers.
//
// Example:
//   Result<Ivrs> ivrs = parse_ivrs(bytes);
//   for (const IvrsIvmd& m : ivrs->ivmds)
//     if (m.unity() || m.exclusion()) use(m.start, m.length, m.first_device(), m.last_device());
//
// Sharp edges:
//   - A wrong checksum is an error here, as it is for the kernel: the AMD driver checks it and
//     gives up on the IOMMU (init.c check_ivrs_checksum, -ENODEV), unlike other tables.
//   - Device ids are 16-bit bus:dev.fn within the entry's PCI segment (`pci_segment`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/acpi_table.h"
#include "iovamap/result.h"

namespace iovamap {

// "00:14.0" for a 16-bit device id (bus 8 bits, device 5, function 3).
std::string ivrs_device_id_string(uint16_t device_id);

// One device entry of an IVHD. Which fields mean something depends on `type`:
//   0x00 pad, 0x01 all, 0x02 select, 0x03 range start, 0x04 range end (4 bytes);
//   0x42 alias select, 0x43 alias range start (alias `alias_id`), 0x46 extended select,
//   0x47 extended range start (`extended`), 0x48 special: IOAPIC/HPET (`handle`, `variety`
//   1 IOAPIC, 2 HPET, device id of the special device) (8 bytes);
//   0xf0 ACPI HID device (`hid`, `cid`, `uid`; 22 bytes plus the UID).
struct IvrsDeviceEntry {
  size_t offset = 0;
  uint8_t type = 0;
  uint8_t length = 0;
  uint16_t device_id = 0;
  uint8_t dte_setting = 0;
  uint16_t alias_id = 0;   // 0x42, 0x43
  uint32_t extended = 0;   // 0x46, 0x47
  uint8_t handle = 0;      // 0x48: IOAPIC id or HPET number
  uint8_t variety = 0;     // 0x48: 1 IOAPIC, 2 HPET
  std::string hid;         // 0xf0: 8 bytes as stored
  std::string cid;         // 0xf0: 8 bytes as stored
  uint8_t uid_format = 0;  // 0xf0: 0 none, 1 integer, 2 string
  std::string uid;         // 0xf0: the UID bytes
};

// An I/O virtualization hardware definition.
struct IvrsIvhd {
  size_t index = 0;   // among the IVHDs, from 0
  size_t offset = 0;  // in the table
  uint8_t type = 0;   // 0x10, 0x11, 0x40
  uint8_t flags = 0;
  uint16_t length = 0;
  uint16_t device_id = 0;  // the IOMMU's own PCI function
  uint16_t capability_offset = 0;
  uint64_t base = 0;  // MMIO registers
  uint16_t pci_segment = 0;
  uint16_t iommu_info = 0;
  uint32_t feature_reporting = 0;  // 10h: IOMMU feature reporting; 11h/40h: IOMMU attributes
  std::optional<uint64_t> efr;     // 11h/40h: the EFR register image
  std::optional<uint64_t> efr2;    // 11h/40h: the EFR2 register image
  std::vector<IvrsDeviceEntry> entries;
};

// An I/O virtualization memory definition: [start, start + length - 1] for the devices of
// `type` 0x20 (all), 0x21 (`device_id`), 0x22 (`device_id` .. `aux`, the range end).
struct IvrsIvmd {
  size_t index = 0;   // among the IVMDs, from 0
  size_t offset = 0;  // in the table
  uint8_t type = 0;
  uint8_t flags = 0;  // bit 0 unity, 1 read, 2 write, 3 exclusion range
  uint16_t device_id = 0;
  uint16_t aux = 0;
  uint16_t pci_segment = 0;
  uint64_t start = 0;
  uint64_t length = 0;

  bool unity() const { return (flags & 1) != 0; }
  bool read() const { return (flags & 2) != 0; }
  bool write() const { return (flags & 4) != 0; }
  bool exclusion() const { return (flags & 8) != 0; }
  // The devices it covers: 0000..ffff for 20h, the one id for 21h, [device_id, aux] for 22h.
  uint16_t first_device() const { return type == 0x20 ? 0 : device_id; }
  uint16_t last_device() const;
  // "IVRS IVMD 21h entry 1, devices 00:00.0-ff:1f.7": provenance for a region it makes.
  std::string describe() const;
};

// A structure this parser does not decode, skipped by its length.
struct IvrsOther {
  size_t offset = 0;
  uint8_t type = 0;
  uint16_t length = 0;
};

struct Ivrs {
  AcpiHeader header;
  uint32_t iv_info = 0;
  std::vector<IvrsIvhd> ivhds;
  std::vector<IvrsIvmd> ivmds;
  std::vector<IvrsOther> others;

  // IVinfo fields (AMD IOMMU spec 48882, 5.2.1).
  bool efr_supported() const { return (iv_info & 1) != 0; }  // EFRSup: 11h/40h EFR images valid
  bool dma_remap_required() const { return (iv_info & 2) != 0; }  // DMA remap support (pre-boot)
  unsigned gva_size() const { return (iv_info >> 5) & 0x7; }      // guest VA size code
  unsigned pa_size() const { return (iv_info >> 8) & 0x7f; }      // physical address bits
  unsigned va_size() const { return (iv_info >> 15) & 0x7f; }     // virtual address bits
};

// The IVRS in `bytes`. EINVAL naming the structure and offset ("IVRS: IVMD at offset 0x98:
// ...") for a wrong checksum (the kernel gives up the IOMMU), a structure or device entry of
// length 0 (the kernel steps by it and would never end), one passing its table or IVHD, a
// device entry type whose length the kernel does not know, fixed parts cut short, and an IVMD
// whose start + length passes 2^64 (the kernel adds without checking; no region could model
// the wrapped result).
Result<Ivrs> parse_ivrs(std::string_view bytes);

}  // namespace iovamap
