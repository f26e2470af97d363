// The ACPI DMAR parser (acpi_dmar.h). Kernel rules cited are from drivers/iommu/intel/dmar.c
// (dmar_walk_remapping_entries, parse_dmar_table, dmar_alloc_dev_scope) and
// drivers/iommu/intel/iommu.c (dmar_parse_one_rmrr, rmrr_sanity_check), Linux 6.12.
#include "iovamap/acpi_dmar.h"

#include <cstdio>

namespace iovamap {
namespace {

constexpr size_t kDmarEntriesOffset = 48;
constexpr size_t kScopeHeaderBytes = 6;
constexpr size_t kDrhdFixedBytes = 16;
constexpr size_t kRmrrFixedBytes = 24;
constexpr uint64_t kPageBytes = 4096;

std::string bus_dev_fn(unsigned bus, unsigned device, unsigned function) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02x:%02x.%u", bus & 0xff, device & 0xff, function & 0xff);
  return buf;
}

// The scopes in [first, end) of the structure `what` (segment `segment`). The kernel steps
// through them by their length without checking it (dmar_alloc_dev_scope): a zero length
// would loop forever and a short or overlong one reads outside the scope, so both are refused.
Result<std::vector<DmarScope>> parse_scopes(const TableBytes& t, size_t first, size_t end,
                                            uint16_t segment, const std::string& what) {
  std::vector<DmarScope> scopes;
  for (size_t at = first; at < end;) {
    DmarScope s;
    s.offset = at;
    if (end - at < kScopeHeaderBytes)
      return t.error(at, what,
                     "device scope: " + std::to_string(end - at) +
                         " bytes left, below the 6-byte scope header");
    s.type = *t.u8(at, what);
    s.length = *t.u8(at + 1, what);
    if (s.length < kScopeHeaderBytes)
      return t.error(at, what,
                     "device scope: length " + std::to_string(s.length) +
                         " below 6 (the "
                         "kernel steps by it: 0 would loop forever)");
    if (s.length > end - at)
      return t.error(
          at, what,
          "device scope: length " + std::to_string(s.length) + " passes the end of its structure");
    s.enumeration_id = *t.u8(at + 4, what);
    s.start_bus = *t.u8(at + 5, what);
    // An odd last byte is not a path step: the kernel counts (length - 6) / 2 steps.
    for (size_t p = at + kScopeHeaderBytes; p + 2 <= at + s.length; p += 2)
      s.path.push_back(DmarPathStep{*t.u8(p, what), *t.u8(p + 1, what)});
    if (s.path.size() == 1)
      s.bdf = DmarDevice{.segment = segment,
                         .bus = s.start_bus,
                         .device = s.path[0].device,
                         .function = s.path[0].function};
    scopes.push_back(std::move(s));
    at += scopes.back().length;
  }
  return scopes;
}

}  // namespace

std::string DmarScope::to_string() const {
  if (bdf) return bus_dev_fn(bdf->bus, bdf->device, bdf->function);
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02x", start_bus);
  std::string out = std::string("bus ") + buf + " path ";
  for (size_t i = 0; i < path.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%02x.%u", path[i].device, path[i].function);
    out += (i ? "/" : "") + std::string(buf);
  }
  return path.empty() ? out + "(empty)" : out;
}

bool DmarRmrr::sane() const {
  return base % kPageBytes == 0 && (end_limit + 1) % kPageBytes == 0 && end_limit > base;
}

Result<Dmar> parse_dmar(std::string_view bytes) {
  IOVAMAP_ASSIGN_OR_RETURN(AcpiHeader header, parse_acpi_header(bytes, "DMAR"));
  TableBytes t(bytes.substr(0, header.length), "DMAR");
  Dmar dmar;
  dmar.header = std::move(header);
  IOVAMAP_ASSIGN_OR_RETURN(dmar.host_address_width, t.u8(36, "header"));
  IOVAMAP_ASSIGN_OR_RETURN(dmar.flags, t.u8(37, "header"));
  // parse_dmar_table refuses a width below PAGE_SHIFT - 1 ("Invalid DMAR haw"): no DMAR at all.
  if (dmar.host_address_width < 11)
    return t.error(36, "header",
                   "host address width " + std::to_string(dmar.host_address_width + 1) +
                       " bits, below the kernel's 12");
  for (size_t at = kDmarEntriesOffset; at < t.size();) {
    IOVAMAP_ASSIGN_OR_RETURN(uint16_t type, t.u16(at, "structure"));
    IOVAMAP_ASSIGN_OR_RETURN(uint16_t length, t.u16(at + 2, "structure"));
    // dmar_walk_remapping_entries: a zero length ends the walk (no error), one passing the
    // table end fails the whole table ("Record passes table end").
    if (length == 0) {
      dmar.stopped_at = at;
      break;
    }
    if (length > t.size() - at) return t.passes_end(at, "structure", length);
    const size_t end = at + length;
    if (type == 0) {
      // The kernel reads the fixed part without checking the length: refuse a short one.
      if (length < kDrhdFixedBytes)
        return t.error(at, "DRHD", "length " + std::to_string(length) + " below its 16 bytes");
      DmarDrhd d;
      d.index = dmar.drhds.size();
      d.offset = at;
      d.flags = *t.u8(at + 4, "DRHD");
      d.size = *t.u8(at + 5, "DRHD");
      d.segment = *t.u16(at + 6, "DRHD");
      d.register_base = *t.u64(at + 8, "DRHD");
      IOVAMAP_ASSIGN_OR_RETURN(d.scopes, parse_scopes(t, at + kDrhdFixedBytes, end, d.segment,
                                                      "DRHD " + std::to_string(d.index)));
      dmar.drhds.push_back(std::move(d));
    } else if (type == 1) {
      if (length < kRmrrFixedBytes)
        return t.error(at, "RMRR", "length " + std::to_string(length) + " below its 24 bytes");
      DmarRmrr r;
      r.index = dmar.rmrrs.size();
      r.offset = at;
      r.segment = *t.u16(at + 6, "RMRR");
      r.base = *t.u64(at + 8, "RMRR");
      r.end_limit = *t.u64(at + 16, "RMRR");
      IOVAMAP_ASSIGN_OR_RETURN(r.scopes, parse_scopes(t, at + kRmrrFixedBytes, end, r.segment,
                                                      "RMRR " + std::to_string(r.index)));
      dmar.rmrrs.push_back(std::move(r));
    } else {
      // ATSR, RHSA, ANDD, SATC, SIDP have handlers that do not make regions; reserved types
      // are skipped by the kernel with a debug message.
      dmar.others.push_back(DmarOther{at, type, length});
    }
    at = end;
  }
  return dmar;
}

}  // namespace iovamap
