// Test helper: builds ACPI tables byte by byte, with the header's length and checksum filled in.
//
// Example:
//   AcpiTableBuilder b("DMAR", 1);
//   b.u8(47).u8(1).zeros(10);            // HAW, flags, reserved: the entries start at 48
//   size_t rmrr = b.size();
//   b.u16(1).u16(32).u16(0).u16(0).u64(0x7b800000).u64(0x7fffffff);
//   b.u8(1).u8(8).u16(0).u8(0).u8(0).u8(0x14).u8(0);
//   std::string table = b.finish();      // length and checksum set
//   b.patch_u16(rmrr + 2, 0);             // then break something on purpose
//
// Sharp edges: `finish` writes the length of what was built; `finish_raw` keeps whatever
// length and checksum the test patched in.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "iovamap/acpi_table.h"

namespace iovamap {

class AcpiTableBuilder {
 public:
  // A 36-byte header with `signature` and `revision`; length and checksum filled by finish().
  explicit AcpiTableBuilder(std::string_view signature, uint8_t revision = 1) {
    bytes_ = std::string(signature).substr(0, 4);
    bytes_.resize(4, ' ');
    u32(0).u8(revision).u8(0);
    bytes_ += "IOVAMP";
    bytes_ += "TESTTABL";
    u32(1);
    bytes_ += "IOVA";
    u32(1);
  }

  size_t size() const { return bytes_.size(); }
  AcpiTableBuilder& u8(uint64_t v) { return le(v, 1); }
  AcpiTableBuilder& u16(uint64_t v) { return le(v, 2); }
  AcpiTableBuilder& u32(uint64_t v) { return le(v, 4); }
  AcpiTableBuilder& u64(uint64_t v) { return le(v, 8); }
  AcpiTableBuilder& zeros(size_t n) {
    bytes_.append(n, '\0');
    return *this;
  }
  AcpiTableBuilder& text(std::string_view s) {
    bytes_ += s;
    return *this;
  }
  // Little-endian `v` over `width` bytes at `offset` (already built).
  AcpiTableBuilder& patch(size_t offset, uint64_t v, unsigned width) {
    for (unsigned i = 0; i < width; ++i) bytes_[offset + i] = static_cast<char>(v >> (8 * i));
    return *this;
  }
  AcpiTableBuilder& patch_u16(size_t offset, uint64_t v) { return patch(offset, v, 2); }
  AcpiTableBuilder& patch_u32(size_t offset, uint64_t v) { return patch(offset, v, 4); }

  // The table with its length set to what was built and its checksum made right.
  std::string finish() {
    patch(4, bytes_.size(), 4);
    return finish_raw();
  }
  // The table with the checksum made right, the length left as built or patched.
  std::string finish_raw() {
    bytes_[9] = 0;
    bytes_[9] = static_cast<char>(static_cast<uint8_t>(-acpi_checksum(bytes_)));
    return bytes_;
  }

 private:
  AcpiTableBuilder& le(uint64_t v, unsigned width) {
    for (unsigned i = 0; i < width; ++i) bytes_ += static_cast<char>(v >> (8 * i));
    return *this;
  }
  std::string bytes_;
};

}  // namespace iovamap
