// The IVRS parser on hand-built tables: IVinfo, IVHD 10h/11h/40h with every device entry
// size, IVMD 20h/21h/22h, and each hostile case (checksum, zero and overlong lengths, unknown
// device entry types, wrapping ranges).
#include "iovamap/acpi_ivrs.h"

#include <gtest/gtest.h>

#include "acpi_test_tables.h"

namespace iovamap {
namespace {

// An IVRS header with IVinfo: EFRSup, PA 48 bits, VA 64 bits, GVA code 2.
AcpiTableBuilder ivrs_builder() {
  AcpiTableBuilder b("IVRS", 2);
  b.u32(1u | (2u << 5) | (48u << 8) | (64u << 15)).zeros(8);
  return b;
}

void ivmd(AcpiTableBuilder& b, uint8_t type, uint8_t flags, uint16_t devid, uint16_t aux,
          uint64_t start, uint64_t length) {
  b.u8(type).u8(flags).u16(32).u16(devid).u16(aux).u16(0).zeros(6).u64(start).u64(length);
}

TEST(AcpiIvrs, ParsesIvinfoIvhdsAndDeviceEntries) {
  AcpiTableBuilder b = ivrs_builder();
  // IVHD 10h: header 24 bytes + select 00:00.2 (4) + alias range start (8) + range end (4)
  // + special IOAPIC (8) + ACPI HID with a 2-byte UID (24).
  const size_t ivhd10 = b.size();
  b.u8(0x10).u8(0xb0).u16(24 + 4 + 8 + 4 + 8 + 24).u16(0x0002).u16(0x40).u64(0xfeb80000);
  b.u16(0).u16(0x1234).u32(0x80048f6e);
  b.u8(0x02).u16(0x0002).u8(0);
  b.u8(0x43).u16(0x0100).u8(0).u8(0).u16(0x00a4).u8(0);
  b.u8(0x04).u16(0x01ff).u8(0);
  b.u8(0x48).u16(0).u8(0xd7).u8(0x21).u16(0x00a0).u8(1);
  b.u8(0xf0).u16(0x00a5).u8(0x40).text("AMDI0020").zeros(8).u8(2).u8(2).text("ID");
  // IVHD 40h: 40-byte header with EFR images + extended select (8).
  b.u8(0x40).u8(0x30).u16(40 + 8).u16(0x0002).u16(0x40).u64(0xfeb80000);
  b.u16(1).u16(0).u32(0).u64(0x246577efa2254afa).u64(0x10);
  b.u8(0x46).u16(0x0300).u8(0).u32(0xdeadbeef);
  // IVHD 11h with no entries.
  b.u8(0x11).u8(0).u16(40).u16(0x0002).u16(0x40).u64(0xfeb80000).u16(0).u16(0).u32(0);
  b.u64(0x58f77ef22294ade).u64(0);
  Result<Ivrs> ivrs = parse_ivrs(b.finish());
  ASSERT_TRUE(ivrs) << ivrs.error().message;
  EXPECT_TRUE(ivrs->efr_supported());
  EXPECT_FALSE(ivrs->dma_remap_required());
  EXPECT_EQ(ivrs->gva_size(), 2u);
  EXPECT_EQ(ivrs->pa_size(), 48u);
  EXPECT_EQ(ivrs->va_size(), 64u);
  ASSERT_EQ(ivrs->ivhds.size(), 3u);
  const IvrsIvhd& h = ivrs->ivhds[0];
  EXPECT_EQ(h.offset, ivhd10);
  EXPECT_EQ(h.type, 0x10);
  EXPECT_EQ(h.flags, 0xb0);
  EXPECT_EQ(h.device_id, 2);
  EXPECT_EQ(h.capability_offset, 0x40);
  EXPECT_EQ(h.base, 0xfeb80000u);
  EXPECT_EQ(h.iommu_info, 0x1234);
  EXPECT_EQ(h.feature_reporting, 0x80048f6eu);
  EXPECT_FALSE(h.efr);
  ASSERT_EQ(h.entries.size(), 5u);
  EXPECT_EQ(h.entries[0].type, 0x02);
  EXPECT_EQ(ivrs_device_id_string(h.entries[0].device_id), "00:00.2");
  EXPECT_EQ(h.entries[1].length, 8);
  EXPECT_EQ(h.entries[1].alias_id, 0x00a4);
  EXPECT_EQ(h.entries[2].device_id, 0x01ff);
  EXPECT_EQ(h.entries[3].handle, 0x21);
  EXPECT_EQ(h.entries[3].device_id, 0x00a0);
  EXPECT_EQ(h.entries[3].variety, 1);
  EXPECT_EQ(h.entries[3].dte_setting, 0xd7);
  EXPECT_EQ(h.entries[4].hid, "AMDI0020");
  EXPECT_EQ(h.entries[4].uid_format, 2);
  EXPECT_EQ(h.entries[4].uid, "ID");
  EXPECT_EQ(h.entries[4].length, 24);
  EXPECT_EQ(ivrs->ivhds[1].type, 0x40);
  EXPECT_EQ(ivrs->ivhds[1].pci_segment, 1);
  EXPECT_EQ(ivrs->ivhds[1].efr, 0x246577efa2254afau);
  EXPECT_EQ(ivrs->ivhds[1].efr2, 0x10u);
  ASSERT_EQ(ivrs->ivhds[1].entries.size(), 1u);
  EXPECT_EQ(ivrs->ivhds[1].entries[0].extended, 0xdeadbeefu);
  EXPECT_EQ(ivrs->ivhds[2].efr, 0x58f77ef22294adeu);
  EXPECT_TRUE(ivrs->ivhds[2].entries.empty());
}

TEST(AcpiIvrs, ParsesIvmdsWithTheirDevices) {
  AcpiTableBuilder b = ivrs_builder();
  ivmd(b, 0x20, 0x07, 0, 0, 0xa0000, 0x20000);
  ivmd(b, 0x21, 0x09, 0x00a0, 0, 0x1000000, 0x1000);
  ivmd(b, 0x22, 0x01, 0x0000, 0x0fff, 0x9d000000, 0x1000000);
  b.u8(0x30).u8(0).u16(8).u32(0);  // an unknown type, skipped by length
  Result<Ivrs> ivrs = parse_ivrs(b.finish());
  ASSERT_TRUE(ivrs) << ivrs.error().message;
  ASSERT_EQ(ivrs->ivmds.size(), 3u);
  const IvrsIvmd& all = ivrs->ivmds[0];
  EXPECT_TRUE(all.unity() && all.read() && all.write() && !all.exclusion());
  EXPECT_EQ(all.start, 0xa0000u);
  EXPECT_EQ(all.length, 0x20000u);
  EXPECT_EQ(all.describe(), "IVRS IVMD 20h entry 0, devices 00:00.0-ff:1f.7");
  EXPECT_TRUE(ivrs->ivmds[1].exclusion());
  EXPECT_EQ(ivrs->ivmds[1].describe(), "IVRS IVMD 21h entry 1, device 00:14.0");
  EXPECT_EQ(ivrs->ivmds[2].first_device(), 0);
  EXPECT_EQ(ivrs->ivmds[2].last_device(), 0x0fff);
  EXPECT_EQ(ivrs->ivmds[2].describe(), "IVRS IVMD 22h entry 2, devices 00:00.0-0f:1f.7");
  EXPECT_EQ(ivrs->ivmds[2].offset, 48u + 64);
  ASSERT_EQ(ivrs->others.size(), 1u);
  EXPECT_EQ(ivrs->others[0].type, 0x30);
}

TEST(AcpiIvrs, WrongChecksumIsRefusedLikeTheAmdDriver) {
  std::string table = ivrs_builder().finish();
  table[12] ^= 0x40;
  Result<Ivrs> ivrs = parse_ivrs(table);
  ASSERT_FALSE(ivrs);
  EXPECT_EQ(ivrs.error().message,
            "IVRS: header at offset 0x9: checksum does not sum to 0 (the AMD driver disables the "
            "IOMMU)");
}

TEST(AcpiIvrs, HostileLengthsAreRefusedWithTheirOffset) {
  {
    AcpiTableBuilder b = ivrs_builder();
    b.u8(0x21).u8(1).u16(0).u32(0);
    Result<Ivrs> ivrs = parse_ivrs(b.finish());
    ASSERT_FALSE(ivrs);
    EXPECT_EQ(ivrs.error().message,
              "IVRS: structure at offset 0x30: length 0 (the kernel steps by it and would never "
              "end)");
  }
  {
    AcpiTableBuilder b = ivrs_builder();
    b.u8(0x21).u8(1).u16(64).u32(0);
    EXPECT_FALSE(parse_ivrs(b.finish()));
  }
  {
    AcpiTableBuilder b = ivrs_builder();  // IVMD shorter than 32 bytes
    b.u8(0x21).u8(1).u16(16).zeros(12);
    Result<Ivrs> ivrs = parse_ivrs(b.finish());
    ASSERT_FALSE(ivrs);
    EXPECT_EQ(ivrs.error().message, "IVRS: IVMD 0 at offset 0x30: length 16 below its 32 bytes");
  }
  {
    AcpiTableBuilder b = ivrs_builder();  // 11h needs 40 bytes of header
    b.u8(0x11).u8(0).u16(24).u16(2).u16(0x40).u64(0).u16(0).u16(0).u32(0);
    EXPECT_FALSE(parse_ivrs(b.finish()));
  }
  {
    AcpiTableBuilder b = ivrs_builder();  // a device entry type with no known length
    b.u8(0x10).u8(0).u16(28).u16(2).u16(0x40).u64(0).u16(0).u16(0).u32(0);
    b.u8(0x80).u16(0).u8(0);
    Result<Ivrs> ivrs = parse_ivrs(b.finish());
    ASSERT_FALSE(ivrs);
    EXPECT_EQ(ivrs.error().message,
              "IVRS: IVHD 0 at offset 0x48: device entry type 0x80 has no length the kernel "
              "knows (it would not advance)");
  }
  {
    AcpiTableBuilder b = ivrs_builder();  // an 8-byte entry in 4 bytes left
    b.u8(0x10).u8(0).u16(28).u16(2).u16(0x40).u64(0).u16(0).u16(0).u32(0);
    b.u8(0x42).u16(0).u8(0);
    EXPECT_FALSE(parse_ivrs(b.finish()));
  }
  {
    AcpiTableBuilder b = ivrs_builder();  // an ACPI HID entry whose UID passes the IVHD
    b.u8(0x10).u8(0).u16(24 + 22).u16(2).u16(0x40).u64(0).u16(0).u16(0).u32(0);
    b.u8(0xf0).u16(0).u8(0).zeros(16).u8(2).u8(200);
    EXPECT_FALSE(parse_ivrs(b.finish()));
  }
  {
    AcpiTableBuilder b = ivrs_builder();  // an ACPI HID entry cut before its UID length
    b.u8(0x10).u8(0).u16(24 + 4).u16(2).u16(0x40).u64(0).u16(0).u16(0).u32(0);
    b.u8(0xf0).u16(0).u8(0);
    EXPECT_FALSE(parse_ivrs(b.finish()));
  }
}

TEST(AcpiIvrs, IvmdPassing2To64IsRefused) {
  AcpiTableBuilder b = ivrs_builder();
  ivmd(b, 0x20, 1, 0, 0, 0xfffffffffffff000, 0x2000);
  Result<Ivrs> ivrs = parse_ivrs(b.finish());
  ASSERT_FALSE(ivrs);
  EXPECT_NE(ivrs.error().message.find("passes 2^64"), std::string::npos);
  AcpiTableBuilder edge = ivrs_builder();  // ending exactly at 2^64 - 1 is fine
  ivmd(edge, 0x20, 1, 0, 0, 0xfffffffffffff000, 0x1000);
  EXPECT_TRUE(parse_ivrs(edge.finish()));
}

}  // namespace
}  // namespace iovamap
