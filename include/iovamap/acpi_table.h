// The common part of every ACPI table: the 36-byte header, its checksum, and bounded
// little-endian reads for the table parsers (acpi_dmar.h, acpi_ivrs.h, acpi_iort.h, acpi_viot.h).
//
// A table is the raw bytes of /sys/firmware/acpi/tables/<SIG>, as the kernel exposes them. The
// header says how long the table is; the parsers look at no byte past that length, and at no
// byte past the end of what was read.
//
// Example:
//   Result<AcpiHeader> h = parse_acpi_header(bytes, "DMAR");
//   if (!h) return h.error();                 // "DMAR: header: length 20 below 36"
//   if (!h->checksum_ok) ...                  // the kernel warns and uses it (see below)
//   TableBytes t(bytes.substr(0, h->length), "DMAR");
//   IOVAMAP_ASSIGN_OR_RETURN(uint8_t haw, t.u8(36, "header"));
//
// Sharp edges:
//   - A wrong checksum is not an error here: ACPICA only warns ("Incorrect checksum in table")
//     unless built to abort (ACPI_CHECKSUM_ABORT, off in Linux; drivers/acpi/acpica/
//     utcksum.c acpi_ut_verify_checksum), so the kernel goes on with the table. The AMD driver is
//     the exception and checks again itself (acpi_ivrs.h).
//   - Bytes past the header's length (a file longer than the table) are ignored; a header
//     length past the bytes read is an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "iovamap/range.h"
#include "iovamap/result.h"

namespace iovamap {

inline constexpr size_t kAcpiHeaderBytes = 36;

// The standard header every ACPI table opens with (ACPI 6.5, 5.2.6).
struct AcpiHeader {
  std::string signature;  // "DMAR", 4 characters
  uint32_t length = 0;    // the whole table, header included
  uint8_t revision = 0;
  uint8_t checksum = 0;      // the byte that makes the table sum to 0
  bool checksum_ok = false;  // whether the first `length` bytes sum to 0 mod 256
  std::string oem_id;        // 6 characters, as stored (padding kept)
  std::string oem_table_id;  // 8 characters
  uint32_t oem_revision = 0;
  std::string creator_id;  // 4 characters
  uint32_t creator_revision = 0;
};

// The sum of `bytes` modulo 256: 0 for a table with a right checksum.
uint8_t acpi_checksum(std::string_view bytes);

// The header of the table in `bytes`, which must carry `signature`. EINVAL naming the table
// when the bytes are shorter than a header, the signature differs, the length is below the
// header or past the bytes read.
Result<AcpiHeader> parse_acpi_header(std::string_view bytes, std::string_view signature);

// Bounded little-endian reads of one table: every read names the table, the offset and what it
// was reading when it would pass the end. Offsets are from the start of the table.
class TableBytes {
 public:
  // `bytes` is the table cut at its header's length; `table` names it in errors ("IORT").
  TableBytes(std::string_view bytes, std::string_view table) : bytes_(bytes), table_(table) {}

  size_t size() const { return bytes_.size(); }
  std::string_view table() const { return table_; }
  // Whether [offset, offset + count) lies inside the table (no overflow).
  bool has(uint64_t offset, uint64_t count) const {
    return offset <= bytes_.size() && count <= bytes_.size() - offset;
  }
  // The value at `offset`; EINVAL "<table>: <what> at offset 0x..: <n> bytes past the end".
  Result<uint8_t> u8(uint64_t offset, std::string_view what) const;
  Result<uint16_t> u16(uint64_t offset, std::string_view what) const;
  Result<uint32_t> u32(uint64_t offset, std::string_view what) const;
  Result<uint64_t> u64(uint64_t offset, std::string_view what) const;
  // `count` raw bytes at `offset` (for names and ids), bounded the same way.
  Result<std::string_view> bytes(uint64_t offset, uint64_t count, std::string_view what) const;

  // The error for a structure of `length` bytes at `offset` that does not end inside the
  // table: "<table>: <what> at offset 0x..: length N passes the table end (0x..)".
  Error passes_end(uint64_t offset, std::string_view what, uint64_t length) const;
  // An error "<table>: <what> at offset 0x<offset>: <message>" (EINVAL, kInput).
  Error error(uint64_t offset, std::string_view what, std::string_view message) const;

 private:
  Result<uint64_t> read_le(uint64_t offset, unsigned width, std::string_view what) const;
  std::string_view bytes_;
  std::string table_;
};

}  // namespace iovamap
