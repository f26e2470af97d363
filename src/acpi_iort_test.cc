// The IORT parser on hand-built tables: every node type, ID mappings followed to the ITS, the
// memory address limits with the kernel's rules, RMR nodes with the revision rules, and each
// hostile case (zero, short and overlong nodes, references that are not nodes, loops).
#include "iovamap/acpi_iort.h"

#include <gtest/gtest.h>

#include "acpi_test_tables.h"

namespace iovamap {
namespace {

constexpr uint32_t kIts = 48, kSmmu = 72, kRc = 160, kNc = 220, kRmr = 280, kPmcg = 348;

void mapping(AcpiTableBuilder& b, uint32_t in, uint32_t count, uint32_t out, uint32_t ref,
             uint32_t flags = 0) {
  b.u32(in).u32(count).u32(out).u32(ref).u32(flags);
}

// ITS, SMMUv3 -> ITS, RC (segment 0, 48 bits) -> SMMU, NC "\_SB.DMA0" (40 bits, single
// mapping) -> SMMU, RMR (one range, remapping permitted) -> SMMU, PMCG.
struct Table {
  AcpiTableBuilder b{"IORT", 5};
  uint8_t rc_revision = 4;
  uint8_t rc_limit = 48;
  uint8_t nc_limit = 40;
  uint32_t smmu_reference = kIts;
  uint32_t rc_reference = kSmmu;
  uint32_t rmr_mappings = 1;
  uint32_t rmr_mapping_offset = 28;

  std::string build(uint8_t revision = 5) {
    b = AcpiTableBuilder("IORT", revision);
    b.u32(6).u32(48).u32(0);
    b.u8(0).u16(24).u8(1).u32(0).u32(0).u32(0).u32(1).u32(7);  // ITS group, ITS id 7
    b.u8(4).u16(88).u8(4).u32(1).u32(1).u32(68);               // SMMUv3
    b.u64(0x9050000).u32(1).u32(0).u64(0).u32(0).zeros(16).u32(0).u32(0);
    mapping(b, 0, 0xffff, 0, smmu_reference);
    b.u8(2).u16(60).u8(rc_revision).u32(2).u32(1).u32(40);  // root complex
    b.u64(0).u32(1).u32(0).u8(rc_limit).u16(0).u8(0).u32(0);
    mapping(b, 0, 0xffff, 0x10000, rc_reference);
    b.u8(1).u16(60).u8(4).u32(3).u32(1).u32(40);  // named component
    b.u32(0).u64(0).u8(nc_limit).text("\\_SB.DMA0").zeros(2);
    mapping(b, 0, 0, 0x20, kSmmu, 1);
    b.u8(6).u16(68).u8(3).u32(4).u32(rmr_mappings).u32(rmr_mapping_offset);  // RMR
    b.u32(1).u32(1).u32(48);
    mapping(b, 0x30, 0, 0x30, kSmmu, 1);
    b.u64(0x80000000).u64(0x100000).u32(0);
    b.u8(5).u16(24).u8(2).u32(5).u32(0).u32(0).zeros(8);  // PMCG: header only
    return b.finish();
  }
};

TEST(AcpiIort, ParsesEveryNodeType) {
  Table table;
  Result<Iort> iort = parse_iort(table.build());
  ASSERT_TRUE(iort) << iort.error().message;
  EXPECT_EQ(iort->node_count, 6u);
  ASSERT_EQ(iort->nodes.size(), 6u);
  const std::vector<uint32_t> offsets{kIts, kSmmu, kRc, kNc, kRmr, kPmcg};
  for (size_t i = 0; i < offsets.size(); ++i) EXPECT_EQ(iort->nodes[i].offset, offsets[i]);
  EXPECT_EQ(iort->nodes[0].its_ids, std::vector<uint32_t>{7});
  const IortNode& smmu = iort->nodes[1];
  EXPECT_EQ(smmu.type, 4);
  EXPECT_EQ(smmu.base_address, 0x9050000u);
  EXPECT_EQ(smmu.smmu_flags, 1u);
  ASSERT_EQ(smmu.mappings.size(), 1u);
  EXPECT_EQ(smmu.mappings[0].output_reference, kIts);
  const IortNode& rc = iort->nodes[2];
  EXPECT_EQ(rc.ats_attribute, 1u);
  EXPECT_EQ(rc.memory_address_limit, 48);
  EXPECT_EQ(iort_dma_limit(rc).last, 0xffffffffffffu);
  const IortNode& nc = iort->nodes[3];
  EXPECT_EQ(nc.name, "\\_SB.DMA0");
  EXPECT_EQ(iort_dma_limit(nc).last, 0xffffffffffu);
  const IortNode& rmr = iort->nodes[4];
  EXPECT_TRUE(rmr.rmr_remapping_permitted());
  EXPECT_EQ(rmr.rmr_ignored, "");
  ASSERT_EQ(rmr.rmr_ranges.size(), 1u);
  EXPECT_EQ(rmr.rmr_ranges[0].base, 0x80000000u);
  EXPECT_EQ(rmr.rmr_ranges[0].length, 0x100000u);
  EXPECT_EQ(rmr.rmr_ranges[0].offset, kRmr + 48u);
  EXPECT_EQ(iort->nodes[5].type, 5);
  EXPECT_EQ(iort_node_type_name(5), "PMCG");
  EXPECT_EQ(iort_node_type_name(9), "type 0x9");
  EXPECT_EQ(iort->node_at(kNc), &iort->nodes[3]);
  EXPECT_EQ(iort->node_at(kNc + 1), nullptr);
}

TEST(AcpiIort, IdMappingsAreFollowed) {
  Table table;
  Result<Iort> iort = parse_iort(table.build());
  ASSERT_TRUE(iort);
  // RID 0x0108 through the root complex to the SMMU: stream id 0x10108.
  Result<IortMapped> to_smmu = iort_map_id(*iort, 2, 0x0108, 1u << 4);
  ASSERT_TRUE(to_smmu) << to_smmu.error().message;
  EXPECT_EQ(to_smmu->node, 1u);
  EXPECT_EQ(to_smmu->id, 0x10108u);
  // On to the ITS group: the SMMU maps 0..0xffff only, so 0x10108 has no mapping.
  EXPECT_EQ(iort_map_id(*iort, 2, 0x0108, 1u << 0).error().code, ENOENT);
  // The named component's single mapping takes any id to 0x20, then the SMMU passes it on.
  Result<IortMapped> nc = iort_map_id(*iort, 3, 0x1234, 1u << 0);
  ASSERT_TRUE(nc);
  EXPECT_EQ(nc->node, 0u);
  EXPECT_EQ(nc->id, 0x20u);
}

TEST(AcpiIort, MemoryLimitsFollowTheKernelsRules) {
  Table table;
  table.rc_revision = 0;  // no limit field: rc_dma_get_range ignores the node
  table.nc_limit = 0;     // a firmware bug nc_dma_get_range skips
  Result<Iort> iort = parse_iort(table.build());
  ASSERT_TRUE(iort) << iort.error().message;
  EXPECT_EQ(iort->nodes[2].memory_address_limit, 0);
  EXPECT_FALSE(iort_dma_limit(iort->nodes[2]).last);
  EXPECT_EQ(iort_dma_limit(iort->nodes[2]).why,
            "root complex node revision 0 has no memory address size limit");
  EXPECT_FALSE(iort_dma_limit(iort->nodes[3]).last);
  EXPECT_EQ(iort_dma_limit(iort->nodes[3]).why,
            "memory address size limit 0 (a firmware bug the kernel skips)");
  EXPECT_FALSE(iort_dma_limit(iort->nodes[1]).last);
  table.rc_revision = 1;
  table.rc_limit = 64;
  table.nc_limit = 200;
  iort = parse_iort(table.build());
  ASSERT_TRUE(iort);
  EXPECT_EQ(iort_dma_limit(iort->nodes[2]).last, UINT64_MAX);
  EXPECT_EQ(iort_dma_limit(iort->nodes[3]).last, UINT64_MAX);
}

TEST(AcpiIort, RmrRevisionRules) {
  Table table;
  Result<Iort> old = parse_iort(table.build(4));  // E.c: the kernel reads no RMR node
  ASSERT_TRUE(old) << old.error().message;
  EXPECT_EQ(old->nodes[4].rmr_ignored,
            "IORT revision 4 below 5 (E.d): the kernel reads no RMR node");
  EXPECT_EQ(old->nodes[4].rmr_ranges.size(), 1u);  // parsed, shown, not used
  table.rmr_mappings = 0;
  Result<Iort> unmapped = parse_iort(table.build());
  ASSERT_TRUE(unmapped) << unmapped.error().message;
  EXPECT_EQ(unmapped->nodes[4].rmr_ignored,
            "no ID mapping: the kernel skips the RMR node (a firmware bug)");
  // Mapping offset 0 with a mapping count: the kernel skips the node before reading mappings,
  // which would be the node's own header (whose "output reference" is no node).
  table.rmr_mappings = 1;
  table.rmr_mapping_offset = 0;
  Result<Iort> zero = parse_iort(table.build());
  ASSERT_TRUE(zero) << zero.error().message;
  EXPECT_EQ(zero->nodes[4].rmr_ignored,
            "ID mapping offset 0: the kernel skips the RMR node (a firmware bug)");
  EXPECT_TRUE(zero->nodes[4].mappings.empty());
  EXPECT_EQ(zero->nodes[4].rmr_ranges.size(), 1u);
}

TEST(AcpiIort, HostileNodesAreRefusedWithTheirOffset) {
  Table table;
  {
    table.build();
    AcpiTableBuilder b = table.b;
    b.patch_u16(kNc + 1, 0);
    Result<Iort> iort = parse_iort(b.finish());
    ASSERT_FALSE(iort);
    EXPECT_EQ(iort.error().message,
              "IORT: node 3 at offset 0xdc: length 0 (the kernel would read this node again as "
              "the next)");
  }
  {
    table.build();
    AcpiTableBuilder b = table.b;
    b.patch_u16(kPmcg + 1, 200);  // past the table end
    EXPECT_FALSE(parse_iort(b.finish()));
    b.patch_u16(kPmcg + 1, 24).patch_u32(36, 7);  // a seventh node after the end
    Result<Iort> iort = parse_iort(b.finish());
    ASSERT_FALSE(iort);
    EXPECT_EQ(iort.error().message,
              "IORT: node 6 at offset 0x174: the node header passes the table end (0x174)");
  }
  {
    table.build();
    AcpiTableBuilder b = table.b;
    b.patch_u32(kRc + 8, 2);  // two mappings where one fits
    Result<Iort> iort = parse_iort(b.finish());
    ASSERT_FALSE(iort);
    EXPECT_EQ(iort.error().message,
              "IORT: node 2 at offset 0xa0: 2 ID mappings at node offset 0x28 pass the end of the "
              "node");
  }
  {
    table.build();
    AcpiTableBuilder b = table.b;
    b.patch_u32(kRmr + 20, 5);  // five RMR descriptors where one fits
    EXPECT_FALSE(parse_iort(b.finish()));
    b.patch_u32(kRmr + 20, 1).patch(kRmr + 48, 0xfffffffffff01000, 8);  // wraps 2^64
    Result<Iort> iort = parse_iort(b.finish());
    ASSERT_FALSE(iort);
    EXPECT_NE(iort.error().message.find("passes 2^64"), std::string::npos);
  }
  {
    table.build();
    AcpiTableBuilder b = table.b;
    b.patch_u32(kIts + 16, 0x40000000);  // ITS ids past the node
    EXPECT_FALSE(parse_iort(b.finish()));
  }
  {
    table.build();
    AcpiTableBuilder b = table.b;
    b.patch(kNc + 29 + 9, 'X', 1).patch(kNc + 29 + 10, 'X', 1);  // name runs into the mapping
    b.patch(kNc + 40, 0x01010101, 4).patch(kNc + 44, 0x01010101, 4);
    b.patch(kNc + 48, 0x01010101, 4).patch(kNc + 52, kSmmu + 0x01010100, 4);
    b.patch(kNc + 56, 0x01010101, 4);
    EXPECT_FALSE(parse_iort(b.finish()));
  }
  {
    table.build();
    AcpiTableBuilder b = table.b;
    b.patch_u16(kNc + 1, 20);  // shorter than a named component
    EXPECT_FALSE(parse_iort(b.finish()));
  }
}

TEST(AcpiIort, ReferencesMustBeNodesAndMustNotLoop) {
  Table table;
  table.rc_reference = kSmmu + 4;
  Result<Iort> iort = parse_iort(table.build());
  ASSERT_FALSE(iort);
  EXPECT_EQ(iort.error().message,
            "IORT: node 2 ID mapping at offset 0xc8: output reference 0x4c is not a node");
  table.rc_reference = kSmmu;
  table.smmu_reference = kRc;  // SMMU -> RC -> SMMU
  iort = parse_iort(table.build());
  ASSERT_FALSE(iort);
  EXPECT_NE(iort.error().message.find("loops back to node"), std::string::npos)
      << iort.error().message;
  table.smmu_reference = kSmmu;  // a node mapping to itself
  EXPECT_FALSE(parse_iort(table.build()));
}

}  // namespace
}  // namespace iovamap
