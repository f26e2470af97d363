// Shared checks for the firmware-table fuzz targets (acpi_*_fuzz.cc): what every parsed model
// must satisfy, whatever the bytes were. A broken invariant aborts, which libFuzzer reports.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "iovamap/acpi_dmar.h"
#include "iovamap/acpi_iort.h"
#include "iovamap/acpi_ivrs.h"
#include "iovamap/acpi_table.h"
#include "iovamap/acpi_viot.h"

namespace iovamap {

// Sets the checksum byte of the table in `bytes` so its header's length sums to 0; false when
// there is no header or its length passes the bytes.
inline bool fix_acpi_checksum(std::string& bytes) {
  if (bytes.size() < kAcpiHeaderBytes) return false;
  uint32_t length = 0;
  for (int i = 3; i >= 0; --i) length = (length << 8) | static_cast<uint8_t>(bytes[4 + i]);
  if (length < kAcpiHeaderBytes || length > bytes.size()) return false;
  bytes[9] = 0;
  bytes[9] = static_cast<char>(static_cast<uint8_t>(-acpi_checksum(bytes.substr(0, length))));
  return true;
}

// `offset` + `count` inside a table of `length` bytes.
inline void check_inside(size_t offset, size_t count, uint32_t length) {
  if (offset > length || count > length - offset) std::abort();
}

inline void check_dmar(const Dmar& d) {
  for (const DmarRmrr& r : d.rmrrs) {
    check_inside(r.offset, 24, d.header.length);
    for (const DmarScope& s : r.scopes) check_inside(s.offset, s.length, d.header.length);
    (void)r.sane();
  }
  for (const DmarDrhd& h : d.drhds)
    for (const DmarScope& s : h.scopes) {
      check_inside(s.offset, s.length, d.header.length);
      if (s.bdf.has_value() != (s.path.size() == 1)) std::abort();
      (void)s.to_string();
    }
}

inline void check_ivrs(const Ivrs& v) {
  for (const IvrsIvhd& h : v.ivhds) {
    check_inside(h.offset, h.length, v.header.length);
    for (const IvrsDeviceEntry& e : h.entries) {
      check_inside(e.offset, e.length, v.header.length);
      if (e.offset < h.offset || e.offset + e.length > h.offset + h.length) std::abort();
    }
  }
  for (const IvrsIvmd& m : v.ivmds) {
    check_inside(m.offset, 32, v.header.length);
    if (m.length != 0 && m.start + (m.length - 1) < m.start) std::abort();
    if (m.describe().empty()) std::abort();
  }
}

inline void check_iort(const Iort& t) {
  for (const IortNode& n : t.nodes) {
    check_inside(n.offset, n.length, t.header.length);
    for (const IortIdMapping& m : n.mappings) {
      check_inside(m.offset, 20, t.header.length);
      if (!t.node_at(m.output_reference)) std::abort();
    }
    for (const IortRmrRange& r : n.rmr_ranges) check_inside(r.offset, 20, t.header.length);
    (void)iort_dma_limit(n);
    // Every walk ends (parse_iort refused loops): an id from each node to an ITS group.
    Result<IortMapped> m = iort_map_id(t, n.index, n.identifier, 1u);
    if (!m && m.error().code != ENOENT) std::abort();
  }
}

inline void check_viot(const Viot& v) {
  for (const ViotNode& n : v.nodes) check_inside(n.offset, n.length, v.header.length);
}

// The body of every table target: parses the input as given and again with its checksum made
// right (so the fuzzer gets past the header), aborts on an error other than EINVAL, and checks
// each model it gets.
template <class T>
int fuzz_table(const uint8_t* data, size_t size, Result<T> (*parse)(std::string_view),
               void (*check)(const T&)) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1 && !fix_acpi_checksum(bytes)) break;
    Result<T> r = parse(bytes);
    if (!r) {
      if (r.error().code != EINVAL) std::abort();
      continue;
    }
    check(*r);
  }
  return 0;
}

}  // namespace iovamap
