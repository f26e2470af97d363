// The ACPI IVRS parser (acpi_ivrs.h). Kernel rules cited are from drivers/iommu/amd/init.c
// (check_ivrs_checksum, init_iommu_all, ivhd_entry_length, init_iommu_from_acpi,
// init_memory_definitions), Linux 6.12.
#include "iovamap/acpi_ivrs.h"

#include <cstdio>

namespace iovamap {
namespace {

constexpr size_t kIvrsEntriesOffset = 48;
constexpr size_t kIvmdBytes = 32;

// The IVHD header size by type: 24 bytes for 10h, 40 for 11h and 40h (init.c ivhd_size).
size_t ivhd_header_bytes(uint8_t type) {
  return type == 0x10 ? 24 : 40;
}

// The length of the device entry at `at` as the kernel computes it (ivhd_entry_length): the
// two top bits of types below 0x80 give 4 or 8 bytes; 0xf0 is 22 bytes plus its UID; the
// kernel knows no other length (0: it would not advance).
Result<size_t> device_entry_length(const TableBytes& t, size_t at, uint8_t type,
                                   const std::string& what) {
  if (type < 0x80) return size_t{4} << (type >> 6);
  if (type == 0xf0) {
    IOVAMAP_ASSIGN_OR_RETURN(uint8_t uid_length, t.u8(at + 21, what));
    return size_t{22} + uid_length;
  }
  return t.error(
      at, what,
      "device entry type " + hex(type) + " has no length the kernel knows (it would not advance)");
}

Result<std::vector<IvrsDeviceEntry>> parse_device_entries(const TableBytes& t, size_t first,
                                                          size_t end, const std::string& what) {
  std::vector<IvrsDeviceEntry> entries;
  for (size_t at = first; at < end;) {
    IvrsDeviceEntry e;
    e.offset = at;
    e.type = *t.u8(at, what);
    IOVAMAP_ASSIGN_OR_RETURN(size_t length, device_entry_length(t, at, e.type, what));
    if (length > end - at)
      return t.error(at, what,
                     "device entry type " + hex(e.type) + " of " + std::to_string(length) +
                         " bytes passes the end of its IVHD");
    e.length = static_cast<uint8_t>(length);
    e.device_id = *t.u16(at + 1, what);
    e.dte_setting = *t.u8(at + 3, what);
    if (e.type == 0x42 || e.type == 0x43) e.alias_id = *t.u16(at + 5, what);
    if (e.type == 0x46 || e.type == 0x47) e.extended = *t.u32(at + 4, what);
    if (e.type == 0x48) {
      e.handle = *t.u8(at + 4, what);
      e.device_id = *t.u16(at + 5, what);  // the special device's id, not the entry's
      e.variety = *t.u8(at + 7, what);
    }
    if (e.type == 0xf0) {
      e.hid = std::string(*t.bytes(at + 4, 8, what));
      e.cid = std::string(*t.bytes(at + 12, 8, what));
      e.uid_format = *t.u8(at + 20, what);
      e.uid = std::string(*t.bytes(at + 22, length - 22, what));
    }
    entries.push_back(std::move(e));
    at += length;
  }
  return entries;
}

}  // namespace

std::string ivrs_device_id_string(uint16_t device_id) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02x:%02x.%u", device_id >> 8, (device_id >> 3) & 0x1f,
                device_id & 7u);
  return buf;
}

uint16_t IvrsIvmd::last_device() const {
  if (type == 0x20) return 0xffff;
  return type == 0x22 ? aux : device_id;
}

std::string IvrsIvmd::describe() const {
  char type_text[8];
  std::snprintf(type_text, sizeof type_text, "%02xh", type);
  std::string devices = first_device() == last_device()
                            ? "device " + ivrs_device_id_string(first_device())
                            : "devices " + ivrs_device_id_string(first_device()) + "-" +
                                  ivrs_device_id_string(last_device());
  return "IVRS IVMD " + std::string(type_text) + " entry " + std::to_string(index) + ", " + devices;
}

Result<Ivrs> parse_ivrs(std::string_view bytes) {
  IOVAMAP_ASSIGN_OR_RETURN(AcpiHeader header, parse_acpi_header(bytes, "IVRS"));
  TableBytes t(bytes.substr(0, header.length), "IVRS");
  // check_ivrs_checksum: a wrong sum makes the AMD driver give up (-ENODEV).
  if (!header.checksum_ok)
    return t.error(9, "header", "checksum does not sum to 0 (the AMD driver disables the IOMMU)");
  Ivrs ivrs;
  ivrs.header = std::move(header);
  IOVAMAP_ASSIGN_OR_RETURN(ivrs.iv_info, t.u32(36, "header"));
  for (size_t at = kIvrsEntriesOffset; at < t.size();) {
    IOVAMAP_ASSIGN_OR_RETURN(uint8_t type, t.u8(at, "structure"));
    IOVAMAP_ASSIGN_OR_RETURN(uint16_t length, t.u16(at + 2, "structure"));
    // init_iommu_all and init_memory_definitions step by the length without checking it.
    if (length == 0)
      return t.error(at, "structure", "length 0 (the kernel steps by it and would never end)");
    if (length > t.size() - at) return t.passes_end(at, "structure", length);
    const size_t end = at + length;
    if (type == 0x10 || type == 0x11 || type == 0x40) {
      IvrsIvhd h;
      h.index = ivrs.ivhds.size();
      h.offset = at;
      h.type = type;
      h.length = length;
      const std::string what = "IVHD " + std::to_string(h.index);
      if (length < ivhd_header_bytes(type))
        return t.error(at, what,
                       "length " + std::to_string(length) + " below the " +
                           std::to_string(ivhd_header_bytes(type)) + "-byte header of type " +
                           hex(type));
      h.flags = *t.u8(at + 1, what);
      h.device_id = *t.u16(at + 4, what);
      h.capability_offset = *t.u16(at + 6, what);
      h.base = *t.u64(at + 8, what);
      h.pci_segment = *t.u16(at + 16, what);
      h.iommu_info = *t.u16(at + 18, what);
      h.feature_reporting = *t.u32(at + 20, what);
      if (type != 0x10) {
        h.efr = *t.u64(at + 24, what);
        h.efr2 = *t.u64(at + 32, what);
      }
      IOVAMAP_ASSIGN_OR_RETURN(h.entries,
                               parse_device_entries(t, at + ivhd_header_bytes(type), end, what));
      ivrs.ivhds.push_back(std::move(h));
    } else if (type == 0x20 || type == 0x21 || type == 0x22) {
      IvrsIvmd m;
      m.index = ivrs.ivmds.size();
      m.offset = at;
      m.type = type;
      const std::string what = "IVMD " + std::to_string(m.index);
      if (length < kIvmdBytes)
        return t.error(at, what, "length " + std::to_string(length) + " below its 32 bytes");
      m.flags = *t.u8(at + 1, what);
      m.device_id = *t.u16(at + 4, what);
      m.aux = *t.u16(at + 6, what);
      m.pci_segment = *t.u16(at + 8, what);
      m.start = *t.u64(at + 16, what);
      m.length = *t.u64(at + 24, what);
      if (m.length != 0 && m.start + (m.length - 1) < m.start)
        return t.error(at, what,
                       "start " + hex(m.start) + " + length " + hex(m.length) + " passes 2^64");
      ivrs.ivmds.push_back(std::move(m));
    } else {
      ivrs.others.push_back(IvrsOther{at, type, length});
    }
    at = end;
  }
  return ivrs;
}

}  // namespace iovamap
