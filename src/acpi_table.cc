// The ACPI table header, its checksum, and bounded little-endian reads (acpi_table.h).
#include "iovamap/acpi_table.h"

namespace iovamap {

uint8_t acpi_checksum(std::string_view bytes) {
  uint8_t sum = 0;
  for (char c : bytes) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(c));
  return sum;
}

Result<AcpiHeader> parse_acpi_header(std::string_view bytes, std::string_view signature) {
  const std::string table(signature);
  if (bytes.size() < kAcpiHeaderBytes)
    return make_error(EINVAL, table + ": header: " + std::to_string(bytes.size()) +
                                  " bytes, below the 36-byte ACPI header");
  TableBytes t(bytes, signature);
  AcpiHeader h;
  h.signature = std::string(bytes.substr(0, 4));
  if (h.signature != signature)
    return make_error(
        EINVAL, table + ": header: signature '" + h.signature + "', expected '" + table + "'");
  h.length = *t.u32(4, "header");
  if (h.length < kAcpiHeaderBytes)
    return make_error(EINVAL, table + ": header: length " + std::to_string(h.length) +
                                  " below the 36-byte ACPI header");
  if (h.length > bytes.size())
    return make_error(EINVAL, table + ": header: length " + std::to_string(h.length) +
                                  " past the " + std::to_string(bytes.size()) + " bytes read");
  h.revision = *t.u8(8, "header");
  h.checksum = *t.u8(9, "header");
  h.checksum_ok = acpi_checksum(bytes.substr(0, h.length)) == 0;
  h.oem_id = std::string(bytes.substr(10, 6));
  h.oem_table_id = std::string(bytes.substr(16, 8));
  h.oem_revision = *t.u32(24, "header");
  h.creator_id = std::string(bytes.substr(28, 4));
  h.creator_revision = *t.u32(32, "header");
  return h;
}

Error TableBytes::error(uint64_t offset, std::string_view what, std::string_view message) const {
  return make_error(EINVAL, table_ + ": " + std::string(what) + " at offset " + hex(offset) + ": " +
                                std::string(message));
}

Error TableBytes::passes_end(uint64_t offset, std::string_view what, uint64_t length) const {
  return error(offset, what,
               "length " + std::to_string(length) + " passes the table end (" + hex(size()) + ")");
}

Result<uint64_t> TableBytes::read_le(uint64_t offset, unsigned width, std::string_view what) const {
  if (!has(offset, width))
    return error(offset, what,
                 std::to_string(width) + "-byte field past the end of the " +
                     std::to_string(bytes_.size()) + "-byte table");
  uint64_t v = 0;
  for (unsigned i = 0; i < width; ++i)
    v |= uint64_t{static_cast<uint8_t>(bytes_[offset + i])} << (8 * i);
  return v;
}

Result<uint8_t> TableBytes::u8(uint64_t offset, std::string_view what) const {
  IOVAMAP_ASSIGN_OR_RETURN(uint64_t v, read_le(offset, 1, what));
  return static_cast<uint8_t>(v);
}
Result<uint16_t> TableBytes::u16(uint64_t offset, std::string_view what) const {
  IOVAMAP_ASSIGN_OR_RETURN(uint64_t v, read_le(offset, 2, what));
  return static_cast<uint16_t>(v);
}
Result<uint32_t> TableBytes::u32(uint64_t offset, std::string_view what) const {
  IOVAMAP_ASSIGN_OR_RETURN(uint64_t v, read_le(offset, 4, what));
  return static_cast<uint32_t>(v);
}
Result<uint64_t> TableBytes::u64(uint64_t offset, std::string_view what) const {
  return read_le(offset, 8, what);
}

Result<std::string_view> TableBytes::bytes(uint64_t offset, uint64_t count,
                                           std::string_view what) const {
  if (!has(offset, count))
    return error(offset, what,
                 std::to_string(count) + " bytes past the end of the " +
                     std::to_string(bytes_.size()) + "-byte table");
  return bytes_.substr(offset, count);
}

}  // namespace iovamap
