// The DMAR parser on hand-built tables: every structure and scope type, and each hostile case
// where the kernel stops, refuses, or would misread (the test names which).
#include "iovamap/acpi_dmar.h"

#include <gtest/gtest.h>

#include "acpi_test_tables.h"

namespace iovamap {
namespace {

// A DMAR header (HAW 46 -> 47 bits, interrupt remapping) with nothing after it.
AcpiTableBuilder dmar_builder() {
  AcpiTableBuilder b("DMAR", 1);
  b.u8(46).u8(1).zeros(10);
  return b;
}

// A scope of `type` with the one-step path dev.fn on `bus`.
void scope(AcpiTableBuilder& b, uint8_t type, uint8_t bus, uint8_t dev, uint8_t fn,
           uint8_t enum_id = 0) {
  b.u8(type).u8(8).u16(0).u8(enum_id).u8(bus).u8(dev).u8(fn);
}

TEST(AcpiDmar, ParsesDrhdRmrrAndScopes) {
  AcpiTableBuilder b = dmar_builder();
  // DRHD, INCLUDE_PCI_ALL, segment 0, IOAPIC and HPET scopes.
  b.u16(0).u16(16 + 16).u8(1).u8(0).u16(0).u64(0xfed90000);
  scope(b, 3, 0xf0, 0x1f, 0, 2);
  scope(b, 4, 0x00, 0x1f, 7, 0);
  // An ATSR, skipped by its length.
  b.u16(2).u16(8).u8(0).u8(0).u16(0);
  // RMRR over [0x7b800000, 0x7fffffff] for 00:14.0 and a two-step bridge path.
  const size_t rmrr_at = b.size();
  b.u16(1).u16(24 + 8 + 10).u16(0).u16(0).u64(0x7b800000).u64(0x7fffffff);
  scope(b, 1, 0, 0x14, 0);
  b.u8(2).u8(10).u16(0).u8(0).u8(0).u8(0x1c).u8(0).u8(0).u8(1);
  Result<Dmar> dmar = parse_dmar(b.finish());
  ASSERT_TRUE(dmar) << dmar.error().message;
  EXPECT_TRUE(dmar->header.checksum_ok);
  EXPECT_EQ(dmar->host_address_width, 46);
  EXPECT_EQ(dmar->flags, 1);
  ASSERT_EQ(dmar->drhds.size(), 1u);
  const DmarDrhd& d = dmar->drhds[0];
  EXPECT_EQ(d.offset, 48u);
  EXPECT_TRUE(d.include_pci_all());
  EXPECT_EQ(d.register_base, 0xfed90000u);
  ASSERT_EQ(d.scopes.size(), 2u);
  EXPECT_EQ(d.scopes[0].type, 3);
  EXPECT_EQ(d.scopes[0].enumeration_id, 2);
  EXPECT_EQ(d.scopes[1].type, 4);
  EXPECT_EQ(d.scopes[1].to_string(), "00:1f.7");
  ASSERT_EQ(dmar->others.size(), 1u);
  EXPECT_EQ(dmar->others[0].type, 2);
  ASSERT_EQ(dmar->rmrrs.size(), 1u);
  const DmarRmrr& r = dmar->rmrrs[0];
  EXPECT_EQ(r.offset, rmrr_at);
  EXPECT_EQ(r.base, 0x7b800000u);
  EXPECT_EQ(r.end_limit, 0x7fffffffu);
  EXPECT_TRUE(r.sane());
  ASSERT_EQ(r.scopes.size(), 2u);
  ASSERT_TRUE(r.scopes[0].bdf);
  EXPECT_EQ(*r.scopes[0].bdf, (DmarDevice{.bus = 0, .device = 0x14, .function = 0}));
  EXPECT_EQ(r.scopes[0].to_string(), "00:14.0");
  EXPECT_FALSE(r.scopes[1].bdf);  // through a bridge: the kernel needs config space
  EXPECT_EQ(r.scopes[1].path, (std::vector<DmarPathStep>{{0x1c, 0}, {0, 1}}));
  EXPECT_EQ(r.scopes[1].to_string(), "bus 00 path 1c.0/00.1");
  EXPECT_FALSE(dmar->stopped_at);
}

TEST(AcpiDmar, RmrrSanityIsTheKernels) {
  DmarRmrr r{.base = 0x1000, .end_limit = 0x1fff};
  EXPECT_TRUE(r.sane());
  r.end_limit = 0x1ffe;  // end + 1 not page aligned
  EXPECT_FALSE(r.sane());
  r = DmarRmrr{.base = 0x1001, .end_limit = 0x1fff};
  EXPECT_FALSE(r.sane());
  r = DmarRmrr{.base = 0x2000, .end_limit = 0x1fff};  // end below base
  EXPECT_FALSE(r.sane());
  r = DmarRmrr{.base = 0, .end_limit = UINT64_MAX};  // end + 1 wraps to 0: aligned
  EXPECT_TRUE(r.sane());
}

TEST(AcpiDmar, ZeroLengthStructureEndsTheWalkLikeTheKernel) {
  AcpiTableBuilder b = dmar_builder();
  b.u16(1).u16(24).u16(0).u16(0).u64(0x1000).u64(0x1fff);
  const size_t zero_at = b.size();
  b.u16(1).u16(0).u16(0).u16(0);
  b.u16(1).u16(24).u16(0).u16(0).u64(0x3000).u64(0x3fff);  // never reached
  Result<Dmar> dmar = parse_dmar(b.finish());
  ASSERT_TRUE(dmar) << dmar.error().message;
  EXPECT_EQ(dmar->rmrrs.size(), 1u);
  EXPECT_EQ(dmar->stopped_at, zero_at);
}

TEST(AcpiDmar, StructurePastTheEndIsRefusedWithItsOffset) {
  AcpiTableBuilder b = dmar_builder();
  b.u16(1).u16(200).u16(0).u16(0).u64(0x1000).u64(0x1fff);
  Result<Dmar> dmar = parse_dmar(b.finish());
  ASSERT_FALSE(dmar);
  EXPECT_EQ(dmar.error().code, EINVAL);
  EXPECT_EQ(dmar.error().kind, ErrorKind::kInput);
  EXPECT_EQ(dmar.error().message,
            "DMAR: structure at offset 0x30: length 200 passes the table end (0x48)");
}

TEST(AcpiDmar, TruncatedStructureHeaderIsRefused) {
  AcpiTableBuilder b = dmar_builder();
  b.u16(1);  // two bytes: no length field
  Result<Dmar> dmar = parse_dmar(b.finish());
  ASSERT_FALSE(dmar);
  EXPECT_NE(dmar.error().message.find("offset 0x32"), std::string::npos) << dmar.error().message;
}

TEST(AcpiDmar, ShortFixedPartsAndBadScopesAreRefused) {
  {
    AcpiTableBuilder b = dmar_builder();
    b.u16(1).u16(16).u16(0).u16(0).u64(0x1000);  // RMRR without its end
    Result<Dmar> dmar = parse_dmar(b.finish());
    ASSERT_FALSE(dmar);
    EXPECT_EQ(dmar.error().message, "DMAR: RMRR at offset 0x30: length 16 below its 24 bytes");
  }
  {
    AcpiTableBuilder b = dmar_builder();
    b.u16(0).u16(8).u32(0);  // DRHD without its base
    EXPECT_FALSE(parse_dmar(b.finish()));
  }
  {
    AcpiTableBuilder b = dmar_builder();  // a zero-length scope: the kernel would spin
    b.u16(1).u16(32).u16(0).u16(0).u64(0x1000).u64(0x1fff);
    b.u8(1).u8(0).u16(0).u8(0).u8(0).u8(0x14).u8(0);
    Result<Dmar> dmar = parse_dmar(b.finish());
    ASSERT_FALSE(dmar);
    EXPECT_EQ(dmar.error().message,
              "DMAR: RMRR 0 at offset 0x48: device scope: length 0 below 6 (the kernel steps by "
              "it: 0 would loop forever)");
  }
  {
    AcpiTableBuilder b = dmar_builder();  // a scope running past its RMRR
    b.u16(1).u16(32).u16(0).u16(0).u64(0x1000).u64(0x1fff);
    b.u8(1).u8(10).u16(0).u8(0).u8(0).u8(0x14).u8(0);
    Result<Dmar> dmar = parse_dmar(b.finish());
    ASSERT_FALSE(dmar);
    EXPECT_NE(dmar.error().message.find("passes the end of its structure"), std::string::npos);
  }
  {
    AcpiTableBuilder b = dmar_builder();  // 3 bytes left for a scope
    b.u16(1).u16(27).u16(0).u16(0).u64(0x1000).u64(0x1fff).u8(1).u8(6).u8(0);
    EXPECT_FALSE(parse_dmar(b.finish()));
  }
}

TEST(AcpiDmar, HeaderRules) {
  {
    AcpiTableBuilder b("DMAR");
    b.u8(10).u8(0).zeros(10);  // 11 bits: parse_dmar_table refuses
    Result<Dmar> dmar = parse_dmar(b.finish());
    ASSERT_FALSE(dmar);
    EXPECT_EQ(dmar.error().message,
              "DMAR: header at offset 0x24: host address width 11 bits, below the kernel's 12");
  }
  {
    std::string table = dmar_builder().finish();
    table[20] ^= 1;  // a wrong checksum: ACPICA warns, the kernel uses the table
    Result<Dmar> dmar = parse_dmar(table);
    ASSERT_TRUE(dmar);
    EXPECT_FALSE(dmar->header.checksum_ok);
  }
  EXPECT_FALSE(parse_dmar(AcpiTableBuilder("IVRS").u8(46).zeros(11).finish()));
  EXPECT_FALSE(parse_dmar(std::string("DMAR")));
  AcpiTableBuilder b = dmar_builder();
  b.patch_u32(4, 4096);  // a length past the bytes read
  Result<Dmar> dmar = parse_dmar(b.finish_raw());
  ASSERT_FALSE(dmar);
  EXPECT_EQ(dmar.error().message, "DMAR: header: length 4096 past the 48 bytes read");
  // A file longer than the table: the bytes after it are not read.
  std::string longer = dmar_builder().finish() + std::string(3, '\xff');
  EXPECT_TRUE(parse_dmar(longer));
}

}  // namespace
}  // namespace iovamap
