// The VIOT parser on hand-built tables: the four node types, QEMU's layout, and the cases
// where the kernel stops reading the table.
#include "iovamap/acpi_viot.h"

#include <gtest/gtest.h>

#include "acpi_test_tables.h"

namespace iovamap {
namespace {

// virtio-iommu PCI at 00:01.0 (offset 48), a PCI range 0000-ffff behind it (64), an MMIO
// virtio-iommu (88), an MMIO endpoint behind it (104), an unknown node type (128).
AcpiTableBuilder viot_builder(uint16_t count = 5) {
  AcpiTableBuilder b("VIOT", 0);
  b.u16(count).u16(48).zeros(8);
  b.u8(3).u8(0).u16(16).u16(0).u16(0x0008).zeros(8);
  b.u8(1).u8(0).u16(24).u32(0).u16(0).u16(0).u16(0).u16(0xffff).u16(48).zeros(6);
  b.u8(4).u8(0).u16(16).u32(0).u64(0xa000000);
  b.u8(2).u8(0).u16(24).u32(0x40).u64(0xa003e00).u16(88).zeros(6);
  b.u8(9).u8(0).u16(8).u32(0);
  return b;
}

TEST(AcpiViot, ParsesEveryNodeType) {
  Result<Viot> viot = parse_viot(viot_builder().finish());
  ASSERT_TRUE(viot) << viot.error().message;
  ASSERT_EQ(viot->nodes.size(), 5u);
  const ViotNode& iommu = viot->nodes[0];
  EXPECT_EQ(iommu.type, 3);
  EXPECT_EQ(iommu.bdf, 0x0008);
  const ViotNode& range = viot->nodes[1];
  EXPECT_EQ(range.offset, 64u);
  EXPECT_EQ(range.bdf_end, 0xffff);
  EXPECT_EQ(viot->node_at(range.output_node), &iommu);
  EXPECT_EQ(viot->nodes[2].base_address, 0xa000000u);
  EXPECT_EQ(viot->nodes[3].endpoint_start, 0x40u);
  EXPECT_EQ(viot->nodes[3].base_address, 0xa003e00u);
  EXPECT_EQ(viot->nodes[3].output_node, 88);
  EXPECT_EQ(viot->nodes[4].type, 9);  // skipped by the kernel, kept here
}

TEST(AcpiViot, BadNodesStopTheTableWithTheirOffset) {
  {
    AcpiTableBuilder b = viot_builder(6);  // a sixth node past the end
    Result<Viot> viot = parse_viot(b.finish());
    ASSERT_FALSE(viot);
    EXPECT_EQ(viot.error().message,
              "VIOT: node 5 at offset 0x88: the node header passes the table end (0x88)");
  }
  {
    AcpiTableBuilder b = viot_builder();
    b.patch_u16(64 + 2, 0);  // an empty node
    Result<Viot> viot = parse_viot(b.finish());
    ASSERT_FALSE(viot);
    EXPECT_EQ(viot.error().message,
              "VIOT: node 1 at offset 0x40: length 0 below the 4-byte header");
  }
  {
    AcpiTableBuilder b = viot_builder();
    b.patch_u16(64 + 2, 12);  // a PCI range node shorter than 24 bytes
    EXPECT_FALSE(parse_viot(b.finish()));
    b.patch_u16(64 + 2, 400);  // past the end
    EXPECT_FALSE(parse_viot(b.finish()));
  }
  {
    AcpiTableBuilder b = viot_builder();
    b.patch_u16(64 + 16, 64);  // the range's output is itself, not a virtio-iommu
    Result<Viot> viot = parse_viot(b.finish());
    ASSERT_FALSE(viot);
    EXPECT_EQ(viot.error().message,
              "VIOT: node 1 at offset 0x40: output node 0x40 is not a virtio-iommu node");
  }
  {
    AcpiTableBuilder b = viot_builder();
    b.patch_u16(38, 20);  // nodes inside the header
    EXPECT_FALSE(parse_viot(b.finish()));
  }
}

}  // namespace
}  // namespace iovamap
