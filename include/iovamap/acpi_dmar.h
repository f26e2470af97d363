// The ACPI DMAR table (Intel VT-d): the remapping units (DRHD) and the memory regions firmware
// asks to keep mapped 1:1 for some devices (RMRR), each with its device scopes.
//
// The Intel driver builds a `direct` (or, for USB and graphics, `direct-relaxable`) reserved
// region from every RMRR whose scope holds a device (drivers/iommu/intel/iommu.c,
// dmar_parse_one_rmrr and intel_iommu_get_resv_regions); this parser gives the entries and
// where they sit in the table, so a region can name its entry ("DMAR RMRR 2, scope 00:14.0").
//
// Example:
//   Result<Dmar> dmar = parse_dmar(reader.read_file("sys/firmware/acpi/tables/DMAR").value());
//   for (const DmarRmrr& r : dmar->rmrrs)
//     for (const DmarScope& s : r.scopes) use(r.base, r.end_limit, s.to_string());
//
// Sharp edges:
//   - A scope path longer than one (device, function) step goes through bridges whose secondary
//     bus numbers only the live PCI topology knows (the kernel reads them from config space,
//     drivers/iommu/intel/dmar.c dmar_insert_dev_scope); such scopes keep the path and have no
//     `bdf`.
//   - What the kernel does with a hostile table decides what is an error here; each rule says
//     so in src/acpi_dmar.cc. A zero-length structure ends the walk (the kernel stops there):
//     `stopped_at` says where.
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

// A device scope entry's type (VT-d 3.4, 8.3.1).
enum class DmarScopeType : uint8_t {
  kEndpoint = 1,
  kBridge = 2,
  kIoApic = 3,
  kHpet = 4,
  kNamespace = 5,
};

// A PCI function a scope names: segment, bus, device (0..31), function (0..7).
struct DmarDevice {
  uint16_t segment = 0;
  uint8_t bus = 0;
  uint8_t device = 0;
  uint8_t function = 0;
  friend bool operator==(const DmarDevice&, const DmarDevice&) = default;
};

struct DmarPathStep {
  uint8_t device = 0;
  uint8_t function = 0;
  friend bool operator==(const DmarPathStep&, const DmarPathStep&) = default;
};

struct DmarScope {
  size_t offset = 0;  // in the table
  uint8_t type = 0;   // DmarScopeType, or a value the kernel does not know
  uint8_t length = 0;
  uint8_t enumeration_id = 0;  // IOAPIC id, HPET number, ACPI namespace device number
  uint8_t start_bus = 0;
  std::vector<DmarPathStep> path;
  // The device a one-step path names (the structure's segment, the start bus, the step);
  // unset for longer paths.
  std::optional<DmarDevice> bdf;
  // "00:14.0" for a one-step path; "bus 00 path 1c.0/00.0" for a longer one.
  std::string to_string() const;
};

// DMA remapping hardware unit definition (type 0).
struct DmarDrhd {
  size_t index = 0;   // among the DRHDs, from 0
  size_t offset = 0;  // in the table
  uint8_t flags = 0;  // bit 0: INCLUDE_PCI_ALL
  uint8_t size = 0;   // register set size, 2^size pages (VT-d 3.x; 0 before)
  uint16_t segment = 0;
  uint64_t register_base = 0;
  std::vector<DmarScope> scopes;
  bool include_pci_all() const { return (flags & 1) != 0; }
};

// Reserved memory region reporting (type 1): [base, end_limit], inclusive.
struct DmarRmrr {
  size_t index = 0;   // among the RMRRs, from 0
  size_t offset = 0;  // in the table
  uint16_t segment = 0;
  uint64_t base = 0;
  uint64_t end_limit = 0;
  std::vector<DmarScope> scopes;
  // The kernel's sanity rule (drivers/iommu/intel/iommu.c rmrr_sanity_check): base and
  // end_limit + 1 page aligned and end_limit above base. A failing RMRR is still used, with a
  // "Your BIOS is broken" warning and a firmware taint.
  bool sane() const;
};

// A structure this parser does not decode (ATSR, RHSA, ANDD, SATC, SIDP, reserved types),
// skipped by its length as the kernel does.
struct DmarOther {
  size_t offset = 0;
  uint16_t type = 0;
  uint16_t length = 0;
};

struct Dmar {
  AcpiHeader header;
  uint8_t host_address_width = 0;  // HAW - 1, as stored
  uint8_t flags = 0;               // bit 0 INTR_REMAP, 1 X2APIC_OPT_OUT, 2 DMA_CTRL_PLATFORM_OPT_IN
  std::vector<DmarDrhd> drhds;
  std::vector<DmarRmrr> rmrrs;
  std::vector<DmarOther> others;
  // Where a zero-length structure ended the walk, as it ends the kernel's; unset when the walk
  // reached the end of the table.
  std::optional<size_t> stopped_at;
};

// The DMAR in `bytes` (the file /sys/firmware/acpi/tables/DMAR). EINVAL naming the structure
// and its offset ("DMAR: RMRR at offset 0x30: ...") for what the kernel refuses (a host address
// width below 12 bits, a structure passing the table end) and for what it would misread or
// loop on (a structure shorter than its fixed part, a scope shorter than 6 bytes or past its
// structure).
Result<Dmar> parse_dmar(std::string_view bytes);

}  // namespace iovamap
