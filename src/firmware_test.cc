// Reading firmware tables and device-tree dma-ranges through a SysfsReader: absent, present,
// malformed (an error naming the file and offset), inherited cell counts, and a snapshot that
// captures them and loads them back.
#include "iovamap/firmware.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "acpi_test_tables.h"
#include "iovamap/host_loader.h"
#include "iovamap/snapshot.h"
#include "test_tree.h"

namespace iovamap {
namespace {

namespace fs = std::filesystem;

std::string be_cells(std::initializer_list<uint32_t> values) {
  std::string out;
  for (uint32_t v : values)
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(v >> shift);
  return out;
}

std::string small_dmar() {
  AcpiTableBuilder b("DMAR", 1);
  b.u8(38).u8(1).zeros(10);
  b.u16(1).u16(32).u16(0).u16(0).u64(0x7b800000).u64(0x7fffffff);
  b.u8(1).u8(8).u16(0).u8(0).u8(0).u8(0x14).u8(0);
  return b.finish();
}

// A Raspberry Pi 4 like tree: soc (2/1 cells) with an emmc2bus (dma-ranges, cells inherited
// from soc's #address-cells 1) and a PCIe host bridge (3/2 cells, device_type "pci").
void add_device_tree(FakeSysfs& f, const std::string& base) {
  f.add_file(base + "/#address-cells", be_cells({2}));
  f.add_file(base + "/#size-cells", be_cells({1}));
  f.add_file(base + "/compatible", std::string("raspberrypi,4-model-b\0", 22));
  f.add_file(base + "/soc/#address-cells", be_cells({1}));
  f.add_file(base + "/soc/#size-cells", be_cells({1}));
  f.add_file(base + "/soc/dma-ranges", "");
  f.add_file(base + "/emmc2bus/#address-cells", be_cells({2}));
  f.add_file(base + "/emmc2bus/#size-cells", be_cells({1}));
  f.add_file(base + "/emmc2bus/dma-ranges", be_cells({0, 0xc0000000, 0, 0, 0x40000000}));
  f.add_file(base + "/scb/pcie@7d500000/device_type", std::string("pci\0", 4));
  f.add_file(base + "/scb/pcie@7d500000/#address-cells", be_cells({3}));
  f.add_file(base + "/scb/pcie@7d500000/#size-cells", be_cells({2}));
  f.add_file(base + "/scb/pcie@7d500000/dma-ranges",
             be_cells({0x02000000, 0, 0, 0, 0, 0, 0xc0000000}));
  f.add_file(base + "/scb/pcie@7d500000/reg", be_cells({0, 0x7d500000, 0x9310}));
}

TEST(Firmware, NothingPresentIsNothingRead) {
  FakeSysfs f;
  f.add_dir("sys/kernel/iommu_groups");
  Result<Firmware> fw = read_firmware(f);
  ASSERT_TRUE(fw) << fw.error().message;
  EXPECT_FALSE(fw->dmar || fw->ivrs || fw->iort || fw->viot);
  EXPECT_TRUE(fw->dma_ranges.empty());
}

TEST(Firmware, TablesAndDeviceTreeAreRead) {
  FakeSysfs f;
  f.add_file("sys/firmware/acpi/tables/DMAR", small_dmar());
  add_device_tree(f, kDeviceTreeDir);
  Result<Firmware> fw = read_firmware(f);
  ASSERT_TRUE(fw) << fw.error().message;
  ASSERT_TRUE(fw->dmar);
  ASSERT_EQ(fw->dmar->rmrrs.size(), 1u);
  EXPECT_EQ(fw->dmar->rmrrs[0].scopes[0].to_string(), "00:14.0");
  ASSERT_EQ(fw->dma_ranges.size(), 3u);
  const DtDmaRangesNode& emmc = fw->dma_ranges[0];
  EXPECT_EQ(emmc.path, "emmc2bus");
  EXPECT_EQ(emmc.cells.child_address_cells, 2u);
  EXPECT_EQ(emmc.cells.parent_address_cells, 2u);  // the root's
  ASSERT_EQ(emmc.ranges.size(), 1u);
  EXPECT_EQ(emmc.ranges[0].bus_address, 0xc0000000u);
  EXPECT_EQ(dt_bus_dma_limit(emmc.ranges).last, 0xffffffffu);
  const DtDmaRangesNode& pcie = fw->dma_ranges[1];
  EXPECT_EQ(pcie.path, "scb/pcie@7d500000");
  EXPECT_TRUE(pcie.cells.pci);
  EXPECT_EQ(pcie.cells.child_address_cells, 3u);
  EXPECT_EQ(pcie.cells.parent_address_cells, 2u);  // scb inherits the root's 2
  EXPECT_EQ(dt_bus_dma_limit(pcie.ranges).last, 0xbfffffffu);
  const DtDmaRangesNode& soc = fw->dma_ranges[2];
  EXPECT_EQ(soc.path, "soc");
  EXPECT_TRUE(soc.empty);
}

TEST(Firmware, MalformedTableIsAnErrorNamingFileAndOffset) {
  FakeSysfs f;
  std::string ivrs = AcpiTableBuilder("IVRS", 2).zeros(12).u8(0x21).u8(1).u16(0).u32(0).finish();
  f.add_file("sys/firmware/acpi/tables/IVRS", ivrs);
  Result<Firmware> fw = read_firmware(f);
  ASSERT_FALSE(fw);
  EXPECT_EQ(fw.error().code, EINVAL);
  EXPECT_EQ(fw.error().message, f.display("sys/firmware/acpi/tables/IVRS") +
                                    ": IVRS: structure at offset 0x30: length 0 (the kernel "
                                    "steps by it and would never end)");
  FakeSysfs g;
  add_device_tree(g, kDeviceTreeDir);
  g.add_file(std::string(kDeviceTreeDir) + "/soc/#size-cells", "\x01");
  Result<Firmware> dt = read_firmware(g);
  ASSERT_FALSE(dt);
  EXPECT_NE(dt.error().message.find("soc/#size-cells: 1 bytes"), std::string::npos)
      << dt.error().message;
}

TEST(Firmware, SnapshotCapturesAndLoaderReadsThem) {
  TempDir tmp;
  const fs::path src = tmp.path() / "src";
  fs::copy(std::string(IOVAMAP_TEST_DATA) + "/snapshots/6.12-intel39/root", src,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::create_directories(src / "sys/firmware/acpi/tables");
  std::ofstream(src / "sys/firmware/acpi/tables/DMAR", std::ios::binary) << small_dmar();
  const fs::path dt = src / kDeviceTreeDir / "soc";
  fs::create_directories(dt);
  std::ofstream(dt / "#address-cells", std::ios::binary) << be_cells({1});
  std::ofstream(dt / "#size-cells", std::ios::binary) << be_cells({1});
  // soc: 1 address cell, the root's default 2 for the parent, 1 size cell.
  std::ofstream(dt / "dma-ranges", std::ios::binary) << be_cells({0, 0, 0, 0x40000000});
  auto reader = open_root_reader(src.string());
  ASSERT_TRUE(reader);
  const std::string out = (tmp.path() / "snap").string();
  Result<SnapshotReport> r = capture_snapshot(**reader, out);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(fs::exists(fs::path(out) / "sys/firmware/acpi/tables/DMAR"));
  EXPECT_TRUE(fs::exists(fs::path(out) / kDeviceTreeDir / "soc/dma-ranges"));
  Result<LoadedHost> loaded = load_host(HostSpec{.source = HostSource::kSnapshot, .path = out});
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(loaded->host.firmware.dmar);
  EXPECT_EQ(loaded->host.firmware.dmar->rmrrs.size(), 1u);
  ASSERT_EQ(loaded->host.firmware.dma_ranges.size(), 1u);
  EXPECT_EQ(dt_bus_dma_limit(loaded->host.firmware.dma_ranges[0].ranges).last, 0x3fffffffu);
  // A broken table fails the load, naming the file.
  std::ofstream(fs::path(out) / "sys/firmware/acpi/tables/DMAR", std::ios::binary) << "DMAR";
  Result<LoadedHost> bad = load_host(HostSpec{.source = HostSource::kSnapshot, .path = out});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("sys/firmware/acpi/tables/DMAR: DMAR: header"),
            std::string::npos)
      << bad.error().message;
}

}  // namespace
}  // namespace iovamap
