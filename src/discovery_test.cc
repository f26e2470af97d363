// Discovery on the three real 6.12 snapshots (tests/data/snapshots, captured from QEMU guests,
// see their expected/qemu.cmd), read both with real symlinks and as link-file copies, and on
// hand-made broken trees.
#include "iovamap/discovery.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "iovamap/msi.h"
#include "test_tree.h"

namespace iovamap {
namespace {

namespace fs = std::filesystem;

std::string snapshot_root(const std::string& name) {
  return std::string(IOVAMAP_TEST_DATA) + "/snapshots/" + name + "/root";
}

Discovery discover_dir(const std::string& root) {
  auto reader = open_root_reader(root);
  EXPECT_TRUE(reader) << reader.error().message;
  Result<Discovery> d = discover(**reader, "snapshot " + root);
  EXPECT_TRUE(d) << d.error().message;
  return d ? std::move(*d) : Discovery{};
}

const Device* find_device(const Host& host, std::string_view name) {
  for (const Group& g : host.groups)
    for (const Device& d : g.devices)
      if (d.name == name) return &d;
  return nullptr;
}

TEST(Discovery, Intel39Snapshot) {
  Discovery d = discover_dir(snapshot_root("6.12-intel39"));
  const Host& h = d.host;
  EXPECT_EQ(h.kernel, (KernelVersion{6, 12}));
  ASSERT_EQ(h.iommus.size(), 1u);
  EXPECT_EQ(h.iommus[0].name, "dmar0");
  EXPECT_EQ(h.iommus[0].driver, "intel");
  EXPECT_EQ(h.iommus[0].reg("cap"), uint64_t{0xd2008c22260206});
  EXPECT_EQ(h.iommus[0].reg("ecap"), uint64_t{0xf00f4a});
  ASSERT_EQ(h.groups.size(), 9u);
  const Group* g6 = h.find_group(6);
  ASSERT_NE(g6, nullptr);
  EXPECT_EQ(g6->type, "DMA-FQ");
  ASSERT_EQ(g6->devices.size(), 3u);
  EXPECT_EQ(g6->devices[0].name, "0000:00:1f.0");  // PCI address order
  EXPECT_EQ(g6->devices[2].name, "0000:00:1f.3");
  ASSERT_TRUE(g6->observed_regions);
  ASSERT_EQ(g6->observed_regions->size(), 2u);
  EXPECT_EQ((*g6->observed_regions)[0].type, RegionType::kDirectRelaxable);
  EXPECT_EQ((*g6->observed_regions)[0].range(), (Range{0, 0xffffff}));
  const Device* nic = find_device(h, "0000:01:00.0");
  ASSERT_NE(nic, nullptr);
  EXPECT_TRUE(nic->is_pci);
  EXPECT_EQ(nic->vendor, 0x8086);
  EXPECT_EQ(nic->device_id, 0x10d3);  // QEMU's e1000e is an 82574L
  EXPECT_EQ(nic->class_code, 0x020000u);
  EXPECT_EQ(nic->iommu, "dmar0");
  EXPECT_TRUE(nic->dma_mask_bits.has_value());
  const Device* ehci = find_device(h, "0000:00:1d.7");
  ASSERT_NE(ehci, nullptr);
  EXPECT_EQ(ehci->driver, "ehci-pci");
  const Device* unbound = find_device(h, "0000:00:04.0");
  ASSERT_NE(unbound, nullptr);
  EXPECT_EQ(unbound->driver, "");
}

TEST(Discovery, AmdAndVirtioSnapshots) {
  Discovery amd = discover_dir(snapshot_root("6.12-amd"));
  ASSERT_EQ(amd.host.iommus.size(), 1u);
  EXPECT_EQ(amd.host.iommus[0].name, "ivhd0");
  EXPECT_EQ(amd.host.iommus[0].driver, "amd");
  EXPECT_EQ(amd.host.iommus[0].reg("cap"), uint64_t{0x1f03000f});
  EXPECT_EQ(amd.host.iommus[0].reg("efr"), uint64_t{0x29d3});  // "29d3:0", the 6.5+ EFR:EFR2 form
  EXPECT_EQ(amd.host.iommus[0].reg("efr2"), uint64_t{0});
  EXPECT_FALSE(amd.host.iommus[0].setting("pgtbl-v2"));  // no amd_iommu= on the command line
  EXPECT_EQ(amd.host.groups.size(), 9u);
  EXPECT_EQ(amd.host.groups[0].type, "DMA");

  Discovery virtio = discover_dir(snapshot_root("6.12-virtio"));
  ASSERT_EQ(virtio.host.iommus.size(), 1u);
  EXPECT_EQ(virtio.host.iommus[0].name, "0000:00:01.0");
  EXPECT_EQ(virtio.host.iommus[0].driver, "virtio");
  EXPECT_EQ(virtio.host.groups.size(), 7u);
  const Device* nic = find_device(virtio.host, "0000:01:00.0");
  ASSERT_NE(nic, nullptr);
  EXPECT_EQ(nic->iommu, "0000:00:01.0");
}

// Every symlink replaced by a regular file holding its text (how the shared copies were made):
// discovery must see the same host.
TEST(Discovery, LinkFileCopyReadsLikeTheOriginal) {
  TempDir tmp;
  fs::path copy = tmp.path() / "root";
  fs::copy(snapshot_root("6.12-intel39"), copy,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  int converted = 0;
  for (const auto& entry : fs::recursive_directory_iterator(copy)) {
    if (!entry.is_symlink()) continue;
    std::string text = fs::read_symlink(entry.path()).string();
    fs::remove(entry.path());
    std::ofstream(entry.path()) << text;
    ++converted;
  }
  ASSERT_GT(converted, 50);
  Discovery a = discover_dir(snapshot_root("6.12-intel39"));
  Discovery b = discover_dir(copy.string());
  ASSERT_EQ(a.host.groups.size(), b.host.groups.size());
  for (size_t i = 0; i < a.host.groups.size(); ++i) {
    const Group& ga = a.host.groups[i];
    const Group& gb = b.host.groups[i];
    EXPECT_EQ(ga.id, gb.id);
    EXPECT_EQ(ga.type, gb.type);
    ASSERT_EQ(ga.devices.size(), gb.devices.size());
    for (size_t j = 0; j < ga.devices.size(); ++j) {
      EXPECT_EQ(ga.devices[j].name, gb.devices[j].name);
      EXPECT_EQ(ga.devices[j].driver, gb.devices[j].driver);
      EXPECT_EQ(ga.devices[j].iommu, gb.devices[j].iommu);
      EXPECT_EQ(ga.devices[j].class_code, gb.devices[j].class_code);
      EXPECT_EQ(ga.devices[j].dma_mask_bits, gb.devices[j].dma_mask_bits);
    }
  }
  EXPECT_EQ(a.host.iommus[0].registers, b.host.iommus[0].registers);
}

TEST(Discovery, EmptyRootIsAHostWithoutGroups) {
  FakeSysfs fake;
  Result<Discovery> d = discover(fake, "fake");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_TRUE(d->host.groups.empty());
  EXPECT_TRUE(d->host.iommus.empty());
  ASSERT_EQ(d->warnings.size(), 1u);  // no osrelease
  EXPECT_NE(d->warnings[0].find("osrelease"), std::string::npos);
}

TEST(Discovery, BadFilesAreErrorsNamingTheFileAndLine) {
  auto base = [] {
    FakeSysfs f;
    f.add_file("proc/sys/kernel/osrelease", "6.12.0\n");
    f.add_file("sys/kernel/iommu_groups/3/type", "DMA\n");
    f.add_file("sys/kernel/iommu_groups/3/reserved_regions",
               "0x00000000fee00000 0x00000000feefffff msi\n");
    f.add_link("sys/kernel/iommu_groups/3/devices/0000:00:03.0",
               "../../../../devices/pci0000:00/0000:00:03.0");
    f.add_file("sys/devices/pci0000:00/0000:00:03.0/vendor", "0x8086\n");
    f.add_file("sys/devices/pci0000:00/0000:00:03.0/class", "0x020000\n");
    f.add_file("sys/devices/pci0000:00/0000:00:03.0/dma_mask_bits", "64\n");
    return f;
  };
  {
    FakeSysfs f = base();
    Result<Discovery> d = discover(f, "fake");
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->host.groups.at(0).devices.at(0).dma_mask_bits, 64u);
    EXPECT_EQ(d->host.groups.at(0).devices.at(0).device_id, 0);  // missing file: unknown
  }
  struct Case {
    std::string path, content, expect;
  };
  for (const Case& c : std::vector<Case>{
           {"proc/sys/kernel/osrelease", "linux\n", "fake/proc/sys/kernel/osrelease:1"},
           {"sys/kernel/iommu_groups/3/reserved_regions", "0x0 0x1 msi\n",
            "fake/sys/kernel/iommu_groups/3/reserved_regions:1"},
           {"sys/devices/pci0000:00/0000:00:03.0/vendor", "0x80zz\n",
            "fake/sys/devices/pci0000:00/0000:00:03.0/vendor:1"},
           {"sys/devices/pci0000:00/0000:00:03.0/dma_mask_bits", "65\n",
            "fake/sys/devices/pci0000:00/0000:00:03.0/dma_mask_bits:1"},
           {"sys/devices/pci0000:00/0000:00:03.0/class", "0x1000000\n",
            "fake/sys/devices/pci0000:00/0000:00:03.0/class:1"},
       }) {
    FakeSysfs f = base();
    f.add_file(c.path, c.content);
    Result<Discovery> d = discover(f, "fake");
    ASSERT_FALSE(d) << c.path;
    EXPECT_NE(d.error().message.find(c.expect), std::string::npos) << d.error().message;
  }
}

TEST(Discovery, CommandLineSettingsOfTheUnits) {
  FakeSysfs f;
  f.add_file("proc/sys/kernel/osrelease", "6.12.1\n");
  f.add_file("proc/cmdline",
             "BOOT_IMAGE=/vmlinuz intel_iommu=on,sm_off quiet amd_iommu=pgtbl_v2\n");
  f.add_file("sys/devices/virtual/iommu/dmar0/intel-iommu/cap", "d2008c22260206\n");
  f.add_link("sys/class/iommu/dmar0", "../../devices/virtual/iommu/dmar0");
  f.add_file("sys/devices/pci0000:00/0000:00:00.2/iommu/ivhd0/amd-iommu/features", "29d3:0\n");
  f.add_link("sys/class/iommu/ivhd0", "../../devices/pci0000:00/0000:00:00.2/iommu/ivhd0");
  Result<Discovery> d = discover(f, "fake");
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ(d->host.iommus.size(), 2u);
  EXPECT_EQ(d->host.iommus[0].setting("scalable-mode"), 0u);
  EXPECT_FALSE(d->host.iommus[0].setting("pgtbl-v2"));
  EXPECT_EQ(d->host.iommus[1].setting("pgtbl-v2"), 1u);
  EXPECT_FALSE(d->host.iommus[1].setting("scalable-mode"));
  f.add_file("sys/devices/virtual/iommu/dmar0/intel-iommu/cap", "0xd2008c22260206\n");
  Result<Discovery> bad = discover(f, "fake");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("fake/sys/devices/virtual/iommu/dmar0/intel-iommu/cap"),
            std::string::npos)
      << bad.error().message;
}

// ivrs_ioapic as drivers/iommu/amd/init.c parse_ivrs_ioapic takes it: both spellings, with
// and without the segment, the first word for an id kept, at most four words, others ignored.
TEST(Discovery, AmdIoapicMapFromTheCommandLine) {
  FakeSysfs f;
  EXPECT_TRUE(discover(f, "fake")->host.amd_ivrs_ioapic.empty());
  f.add_file("proc/cmdline",
             "ivrs_ioapic=0@0000:00:1f.0 ivrs_ioapic[4]=00:14.0 ivrs_ioapic=0@00:1f.3 "
             "ivrs_ioapic=33@0001:0a:00.1 ivrs_ioapicx ivrs_ioapic=5@zz ivrs_ioapic[6]=00:00.2\n");
  std::map<uint32_t, uint32_t> m = discover(f, "fake")->host.amd_ivrs_ioapic;
  // The fifth well-formed word (id 6) passes EARLY_MAP_SIZE and is dropped.
  std::map<uint32_t, uint32_t> want{{0, 0x00f8}, {4, 0x00a0}, {33, 0x10a01}};
  EXPECT_EQ(m, want);
}

TEST(Discovery, TheType1MappingBudget) {
  FakeSysfs f;
  EXPECT_FALSE(discover(f, "fake")->host.dma_entry_limit);  // the default applies
  // Not loaded: the command line's last value, parsed as the kernel parses it (base 0).
  f.add_file("proc/cmdline",
             "quiet vfio_iommu_type1.dma_entry_limit=100 vfio_iommu_type1.dma_entry_limit=0x400\n");
  EXPECT_EQ(discover(f, "fake")->host.dma_entry_limit, 0x400u);
  f.add_file("proc/cmdline", "vfio_iommu_type1.dma_entry_limit=010\n");
  EXPECT_EQ(discover(f, "fake")->host.dma_entry_limit, 8u);  // octal, as kstrtouint reads it
  f.add_file("proc/cmdline",
             "vfio_iommu_type1.dma_entry_limit=7 vfio_iommu_type1.dma_entry_limit=4294967296\n");
  Result<Discovery> refused = discover(f, "fake");
  ASSERT_TRUE(refused) << refused.error().message;
  EXPECT_EQ(refused->host.dma_entry_limit, 7u);
  ASSERT_EQ(refused->warnings.size(), 2u);  // the missing osrelease, and this
  EXPECT_NE(refused->warnings[1].find("fake/proc/cmdline: 'vfio_iommu_type1.dma_entry_limit="
                                      "4294967296' is not a 32-bit number"),
            std::string::npos)
      << refused->warnings[1];
  // Loaded: the module's own value wins.
  f.add_file("sys/module/vfio_iommu_type1/parameters/dma_entry_limit", "200000\n");
  EXPECT_EQ(discover(f, "fake")->host.dma_entry_limit, 200000u);
  f.add_file("sys/module/vfio_iommu_type1/parameters/dma_entry_limit", "4294967296\n");
  Result<Discovery> bad = discover(f, "fake");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find(
                "fake/sys/module/vfio_iommu_type1/parameters/dma_entry_limit:1: value"),
            std::string::npos)
      << bad.error().message;
}

TEST(Discovery, UnsafeInterruptsFromTheModulesOrTheCommandLine) {
  FakeSysfs f;
  Result<Discovery> d = discover(f, "fake");
  EXPECT_FALSE(d->host.type1_allow_unsafe_interrupts);  // the default (off) applies
  EXPECT_FALSE(d->host.iommufd_allow_unsafe_interrupts);
  // Not loaded: the command line's last setting, as kstrtobool reads it; a bare name is true,
  // and a dash is an underscore in parameter names.
  f.add_file("proc/cmdline",
             "quiet vfio_iommu_type1.allow_unsafe_interrupts=0 "
             "vfio-iommu-type1.allow-unsafe-interrupts=on iommufd.allow_unsafe_interrupts\n");
  d = discover(f, "fake");
  EXPECT_EQ(d->host.type1_allow_unsafe_interrupts, true);
  EXPECT_EQ(d->host.iommufd_allow_unsafe_interrupts, true);
  for (auto [value, want] : {std::pair{"Y", true},
                             {"yes", true},
                             {"t", true},
                             {"1", true},
                             {"N", false},
                             {"off", false},
                             {"f", false},
                             {"0", false}}) {
    f.add_file("proc/cmdline", std::string("vfio_iommu_type1.allow_unsafe_interrupts=") + value);
    EXPECT_EQ(discover(f, "fake")->host.type1_allow_unsafe_interrupts, want) << value;
  }
  // A value the kernel refuses is ignored with a warning naming the file; an earlier one stays.
  f.add_file("proc/cmdline",
             "iommufd.allow_unsafe_interrupts=1 iommufd.allow_unsafe_interrupts=maybe "
             "iommufd.allow_unsafe_interrupts= vfio_iommu_type1.allow_unsafe_interrupts_x=1\n");
  d = discover(f, "fake");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->host.iommufd_allow_unsafe_interrupts, true);
  EXPECT_FALSE(d->host.type1_allow_unsafe_interrupts);
  ASSERT_EQ(d->warnings.size(), 3u);  // the missing osrelease, and these two
  EXPECT_EQ(d->warnings[1],
            "fake/proc/cmdline: 'iommufd.allow_unsafe_interrupts=maybe' is not a boolean, ignored");
  // Loaded: the module's own value wins (param_get_bool prints Y or N).
  f.add_file("sys/module/iommufd/parameters/allow_unsafe_interrupts", "N\n");
  f.add_file("sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "Y\n");
  d = discover(f, "fake");
  EXPECT_EQ(d->host.iommufd_allow_unsafe_interrupts, false);
  EXPECT_EQ(d->host.type1_allow_unsafe_interrupts, true);
  f.add_file("sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "maybe\n");
  Result<Discovery> bad = discover(f, "fake");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "fake/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts:1: expected Y or "
            "N, got 'maybe'");
}

TEST(Discovery, MsiIsolationFromTheInterruptChips) {
  FakeSysfs f;
  EXPECT_FALSE(discover(f, "fake")->host.msi);  // no /sys/kernel/irq: unknown
  auto chip = [&](int irq, const std::string& name) {
    f.add_file("sys/kernel/irq/" + std::to_string(irq) + "/chip_name", name + "\n");
  };
  chip(0, "XT-PIC");
  chip(4, "GICv3");
  f.add_dir("sys/kernel/irq/5");                // no chip_name: skipped
  EXPECT_FALSE(discover(f, "fake")->host.msi);  // nothing said about MSIs
  // x86 without interrupt remapping (virtio-iommu): plain IO-APIC and PCI-MSI chips.
  chip(9, "IO-APIC");
  chip(24, "PCI-MSIX-0000:00:02.0");
  Result<Discovery> d = discover(f, "fake");
  ASSERT_TRUE(d->host.msi);
  EXPECT_FALSE(d->host.msi->isolated);
  EXPECT_EQ(d->host.msi->source, "fake/sys/kernel/irq/9/chip_name: 'IO-APIC'");  // numeric order
  // Remapping on: one remapped chip shows it, and wins host-wide.
  chip(10, "IR-IO-APIC");
  chip(100, "ITS-MSI");
  d = discover(f, "fake");
  ASSERT_TRUE(d->host.msi);
  EXPECT_TRUE(d->host.msi->isolated);
  EXPECT_EQ(d->host.msi->source, "fake/sys/kernel/irq/10/chip_name: 'IR-IO-APIC'");
}

TEST(Discovery, MsiIsolationOfADevicesOwnVectors) {
  FakeSysfs f;
  f.add_link("sys/kernel/iommu_groups/3/devices/0000:00:02.0",
             "../../../../devices/pci0000:00/0000:00:02.0");
  f.add_link("sys/kernel/iommu_groups/3/devices/0000:00:03.0",
             "../../../../devices/pci0000:00/0000:00:03.0");
  f.add_file("sys/devices/pci0000:00/0000:00:02.0/vendor", "0x8086\n");
  f.add_file("sys/devices/pci0000:00/0000:00:03.0/vendor", "0x8086\n");
  f.add_file("sys/kernel/irq/9/chip_name", "IR-IO-APIC\n");
  // 0000:00:02.0 has MSI-X enabled; one vector's chip is not remapped.
  f.add_file("sys/devices/pci0000:00/0000:00:02.0/msi_irqs/24", "msix\n");
  f.add_file("sys/devices/pci0000:00/0000:00:02.0/msi_irqs/25", "msix\n");
  f.add_file("sys/kernel/irq/24/chip_name", "IR-PCI-MSIX-0000:00:02.0\n");
  f.add_file("sys/kernel/irq/25/chip_name", "PCI-MSIX-0000:00:02.0\n");
  Result<Discovery> d = discover(f, "fake");
  ASSERT_TRUE(d) << d.error().message;
  const Group& g = d->host.groups.at(0);
  ASSERT_TRUE(g.devices[0].msi);
  EXPECT_FALSE(g.devices[0].msi->isolated);
  EXPECT_EQ(g.devices[0].msi->source, "fake/sys/kernel/irq/25/chip_name: 'PCI-MSIX-0000:00:02.0'");
  EXPECT_FALSE(g.devices[1].msi);  // no vectors: the host's answer applies
  MsiVerdict v = group_msi_isolation(d->host, g);
  EXPECT_FALSE(v.isolated);
  EXPECT_EQ(v.why, "0000:00:02.0: fake/sys/kernel/irq/25/chip_name: 'PCI-MSIX-0000:00:02.0'");
}

TEST(Discovery, RamTopFromTheFirmwareMemoryMap) {
  FakeSysfs f;
  auto entry = [&](int i, const char* start, const char* end, const char* type) {
    std::string dir = "sys/firmware/memmap/" + std::to_string(i) + "/";
    f.add_file(dir + "start", start);
    f.add_file(dir + "end", end);
    f.add_file(dir + "type", type);
  };
  entry(0, "0x0\n", "0x9fbff\n", "System RAM\n");
  entry(1, "0x100000000\n", "0x83fffffff\n", "System RAM\n");
  entry(2, "0xfeffc000\n", "0xfeffffff\n", "Reserved\n");
  entry(3, "0x100000\n", "0xbffdffff\n", "System RAM\n");
  Result<Discovery> d = discover(f, "fake");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->host.ram_top, uint64_t{0x83fffffff});
  FakeSysfs none;
  EXPECT_FALSE(discover(none, "fake")->host.ram_top);
}

TEST(Discovery, ParsesSysfsNumbers) {
  EXPECT_EQ(parse_sysfs_number("0x8086\n", "f").value(), 0x8086u);
  EXPECT_EQ(parse_sysfs_number("64\n", "f").value(), 64u);
  EXPECT_EQ(parse_sysfs_number("d2008c22260206\n", "f", true).value(), 0xd2008c22260206u);
  EXPECT_EQ(parse_sysfs_number("ffffffffffffffff", "f", true).value(), kMaxAddress);
  EXPECT_EQ(parse_sysfs_number("0", "f").value(), 0u);
  for (const char* bad :
       {"", "\n", "0x", "-1", "+1", "1 ", "64\n\n", "0x1g", "18446744073709551616"})
    EXPECT_FALSE(parse_sysfs_number(bad, "f")) << bad;
  EXPECT_FALSE(parse_sysfs_number("10000000000000000", "f", true));
  EXPECT_TRUE(is_pci_address("0000:00:1f.3"));
  EXPECT_FALSE(is_pci_address("0000:00:1f.8"));
  EXPECT_FALSE(is_pci_address("0000:00:1F.3"));
  EXPECT_FALSE(is_pci_address("platform.0"));
}

}  // namespace
}  // namespace iovamap
