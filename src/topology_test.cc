// Topology files: every example parses, hand cases for each key, and bad input names the file
// and line.
#include "iovamap/topology.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "iovamap/iommu_driver.h"
#include "iovamap/msi.h"

namespace iovamap {
namespace {

Result<Host> parse(const std::string& text) {
  return parse_topology(text, "t.toml");
}

TEST(Topology, TheIssueExample) {
  Result<Host> h = parse(R"(
kernel = "6.12"
[[iommu]]
name = "dmar0"
driver = "intel"            # intel | amd | arm-smmu-v3 | arm-smmu | virtio | generic
address-bits = 39           # or aperture = ["0x0", "0x7fffffffff"]
[[group]]
id = 6
iommu = "dmar0"
type = "DMA"
[[group.device]]
bdf = "0000:01:00.0"
class = "0x020000"
driver = "vfio-pci"
dma-bits = 40               # a declared limit
regions = [ { first = "0x0", last = "0xffffff", type = "direct" } ]  # firmware regions
)");
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->kernel, (KernelVersion{6, 12}));
  EXPECT_EQ(h->source, "topology t.toml");
  ASSERT_EQ(h->iommus.size(), 1u);
  EXPECT_EQ(h->iommus[0].driver, "intel");
  EXPECT_EQ(h->iommus[0].address_bits, 39u);
  ASSERT_EQ(h->groups.size(), 1u);
  const Group& g = h->groups[0];
  EXPECT_EQ(g.id, 6u);
  EXPECT_EQ(g.type, "DMA");
  ASSERT_EQ(g.devices.size(), 1u);
  const Device& d = g.devices[0];
  EXPECT_EQ(d.name, "0000:01:00.0");
  EXPECT_TRUE(d.is_pci);
  EXPECT_EQ(d.class_code, 0x020000u);
  EXPECT_EQ(d.driver, "vfio-pci");
  EXPECT_EQ(d.declared_dma_bits, 40u);
  EXPECT_FALSE(d.dma_mask_bits);
  EXPECT_EQ(d.iommu, "dmar0");
  ASSERT_EQ(d.firmware_regions.size(), 1u);
  EXPECT_EQ(d.firmware_regions[0].range(), (Range{0, 0xffffff}));
  EXPECT_EQ(d.firmware_regions[0].type, RegionType::kDirect);
  ASSERT_EQ(d.firmware_regions[0].provenance.size(), 1u);
  EXPECT_EQ(d.firmware_regions[0].provenance[0].origin, Origin::kFirmware);
}

TEST(Topology, EdgesOfTheAddressSpace) {
  Result<Host> h = parse(R"(
[[iommu]]
name = "v"
driver = "virtio"
aperture = [0, "0xffffffffffffffff"]
page-sizes = "0xfffffffffffff000"
[[group]]
id = 4294967295
[[group.device]]
name = "platform-dev"
iommu = "v"
has-iommu = false
regions = [ { start = "0xfffffffffffff000", size = "4KiB", type = "reserved" },
            { start = 0, size = "16EiB", type = "sw-msi" } ]
)");
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->iommus[0].aperture, Range::all());
  EXPECT_EQ(h->groups[0].id, 0xffffffffu);
  const Device& d = h->groups[0].devices[0];
  EXPECT_FALSE(d.is_pci);
  EXPECT_FALSE(d.has_iommu);
  EXPECT_EQ(d.firmware_regions[0].range(), (Range{0xfffffffffffff000, kMaxAddress}));
  EXPECT_EQ(d.firmware_regions[1].range(), Range::all());
  EXPECT_EQ(d.firmware_regions[1].type, RegionType::kSwMsi);
  // No kernel key: the newest kernel the lab verified for every driver (tests/data/lab-*-7x).
  EXPECT_EQ(h->kernel, (KernelVersion{7, 3}));
  EXPECT_FALSE(h->dma_entry_limit);  // no dma-entry-limit key: the default

  Result<Host> budget = parse("dma-entry-limit = \"0xffffffff\"\n");
  ASSERT_TRUE(budget) << budget.error().message;
  EXPECT_EQ(budget->dma_entry_limit, 0xffffffffu);
}

// Driver keys land in the unit's registers and settings and change the driver's answers; a key
// of another driver is refused with the unit's driver and its keys, wherever `driver` stands.
TEST(Topology, DriverKeysReachTheModel) {
  // A 48-bit unit with scalable mode and first-stage tables only (ecap SMTS | FLTS): first-stage
  // domains, one bit less, unless the command line turned scalable mode off.
  const std::string intel = R"(
[[iommu]]
intel-cap = "0xc002f0400"
intel-ecap = "0x880000000000"
name = "dmar0"
driver = "intel"
)";
  Result<Host> h = parse(intel);
  ASSERT_TRUE(h) << h.error().message;
  const IommuUnit& unit = h->iommus.at(0);
  EXPECT_EQ(unit.registers, (std::map<std::string, uint64_t, std::less<>>{
                                {"cap", 0xc002f0400}, {"ecap", 0x880000000000}}));
  EXPECT_TRUE(unit.settings.empty());
  EXPECT_EQ(paging_aperture(unit, KernelVersion{6, 12})->range, (Range{0, 0x7fffffffffff}));
  Result<Host> off = parse(intel + "intel-scalable-mode = false\n");
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_EQ(off->iommus.at(0).setting("scalable-mode"), 0u);
  EXPECT_EQ(paging_aperture(off->iommus.at(0), KernelVersion{6, 12})->range,
            (Range{0, 0xffffffffffff}));

  Result<Host> smmu = parse(R"(
[[iommu]]
name = "smmu.0x0000000005040000"
driver = "arm-smmu"
smmu-ttbr1 = true
smmu-va-bits = 36
)");
  ASSERT_TRUE(smmu) << smmu.error().message;
  EXPECT_EQ(smmu->iommus.at(0).settings,
            (std::map<std::string, uint64_t, std::less<>>{{"smmu-va-bits", 36}, {"ttbr1", 1}}));
  EXPECT_EQ(paging_aperture(smmu->iommus.at(0), KernelVersion{6, 12})->range,
            (Range{0xfffffff000000000, kMaxAddress}));

  struct Case {
    std::string text, expect;
  };
  for (const Case& c : std::vector<Case>{
           {"[[iommu]]\nname = \"a\"\namd-efr = 1\ndriver = \"intel\"\n",
            "t.toml:3: 'amd-efr' is a key of amd units, and this unit's driver is intel (intel "
            "keys: intel-cap, intel-ecap, intel-scalable-mode)"},
           {"[[iommu]]\nname = \"a\"\ndriver = \"virtio\"\nsmmu-va-bits = 48\n",
            "t.toml:4: 'smmu-va-bits' is a key of arm-smmu-v3, arm-smmu units, and this unit's "
            "driver is virtio (virtio keys: none)"},
           {"[[iommu]]\nname = \"a\"\ndriver = \"amd\"\namd-cap = \"0x100000000\"\n",
            "t.toml:4: 'amd-cap' is above 0xffffffff"},
           {"[[iommu]]\nname = \"a\"\ndriver = \"amd\"\namd-pgtbl-v2 = 1\n",
            "t.toml:4: 'amd-pgtbl-v2' must be true or false"},
           {"[[iommu]]\nname = \"a\"\ndriver = \"arm-smmu-v3\"\ncpu-va-bits = 0\n",
            "t.toml:4: 'cpu-va-bits' must be 1 to 64"},
           {"[[iommu]]\nname = \"a\"\ndriver = \"arm-smmu\"\nsmmu-va-bits = 65\n",
            "t.toml:4: 'smmu-va-bits' must be 1 to 64"},
           {"[[iommu]]\nname = \"a\"\ndriver = 3\n", "t.toml:3: 'driver' must be a string"},
       }) {
    Result<Host> bad = parse(c.text);
    ASSERT_FALSE(bad) << c.text;
    EXPECT_EQ(bad.error().message, c.expect) << c.text;
  }
}

TEST(Topology, GroupsSortedAndDeviceOrderKept) {
  Result<Host> h = parse(R"(
[[group]]
id = 9
[[group.device]]
bdf = "0000:00:1f.3"
[[group.device]]
bdf = "0000:00:1f.0"
[[group]]
id = 2
)");
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->groups[0].id, 2u);
  EXPECT_EQ(h->groups[1].devices[0].name, "0000:00:1f.3");
}

TEST(Topology, BadInputNamesTheFileAndLine) {
  struct Case {
    std::string text, expect;
  };
  for (
      const Case& c : std::vector<Case>{
          {"kernel = 6.12\n", "t.toml:1"},
          {"kernel = \"six\"\n", "t.toml:1: bad kernel version"},
          {"\n[[iommu]]\nname = \"a\"\ndriver = \"intell\"\n", "t.toml:4: unknown IOMMU driver"},
          {"[[iommu]]\nname = \"a\"\n", "t.toml:1: [[iommu]] needs 'driver'"},
          {"[[iommu]]\nname = \"a\"\ndriver = \"amd\"\naddress-bits = 65\n", "t.toml:4"},
          {"[[iommu]]\nname = \"a\"\ndriver = \"amd\"\naddress-bits = 0\n", "t.toml:4"},
          {"[[iommu]]\nname = \"a\"\ndriver = \"amd\"\naddress-bits = 39\naperture = [0, 1]\n",
           "not both"},
          {"[[iommu]]\nname = \"a\"\ndriver = \"amd\"\naperture = [\"0x2\", \"0x1\"]\n",
           "t.toml:4"},
          {"[[iommu]]\nname = \"a\"\ndriver = \"amd\"\n[[iommu]]\nname = \"a\"\ndriver = \"amd\"\n",
           "defined twice"},
          {"[[group]]\nid = -1\n", "t.toml:2: 'id' must not be negative"},
          {"[[group]]\nid = \"0x100000000\"\n", "t.toml:2"},
          {"[[group]]\nid = 1\ntype = \"dma\"\n", "t.toml:3: unknown group type"},
          {"[[group]]\nid = 1\n[[group]]\nid = 1\n", "defined twice"},
          {"[[group]]\nid = 1\nbogus = 2\n", "t.toml:3: unknown key 'bogus'"},
          {"[[group]]\nid = 1\n[[group.device]]\nclass = 1\n", "t.toml:3: [[group.device]] needs"},
          {"[[group]]\nid = 1\n[[group.device]]\nbdf = \"a\"\nname = \"b\"\n", "not both"},
          {"[[group]]\nid = 1\niommu = \"x\"\n[[group.device]]\nbdf = \"a\"\n",
           "t.toml:1: device a: no [[iommu]] named 'x'"},
          {"[[group]]\nid = 1\n[[group.device]]\nbdf = \"a\"\n[[group]]\nid = 2\n"
           "[[group.device]]\nbdf = \"a\"\n",
           "in groups 1 and 2"},
          {"[[group]]\nid = 1\n[[group.device]]\nbdf = \"a\"\nclass = \"0x1000000\"\n", "t.toml:5"},
          {"[[group]]\nid = 1\n[[group.device]]\nbdf = \"a\"\ndma-bits = \"40x\"\n", "t.toml:5"},
          {"[[group]]\nid = 1\n[[group.device]]\nbdf = \"a\"\n"
           "regions = [ { first = 1, last = 0, type = \"direct\" } ]\n",
           "t.toml:5: region: first 0x1 is above last"},
          {"[[group]]\nid = 1\n[[group.device]]\nbdf = \"a\"\n"
           "regions = [ { first = 1, size = 2, type = \"direct\" } ]\n",
           "t.toml:5: region needs either"},
          {"[[group]]\nid = 1\n[[group.device]]\nbdf = \"a\"\n"
           "regions = [ { start = \"0xffffffffffffffff\", size = 2, type = \"msi\" } ]\n",
           "passes 2^64-1"},
          {"[[group]]\nid = 1\n[[group.device]]\nbdf = \"a\"\n"
           "regions = [ { first = 0, last = 1, type = \"floppy\" } ]\n",
           "t.toml:5: unknown region type"},
          {"[[group]]\nid = 1\n[[group.device]]\nbdf = \"a\"\nregions = [ 1 ]\n", "t.toml:5"},
          {"dma-entry-limit = \"0x100000000\"\n", "t.toml:1: 'dma-entry-limit' must fit in 32"},
          {"dma-entry-limit = -1\n", "t.toml:1"},
          {"\nmsi-isolated = \"no\"\n", "t.toml:2: 'msi-isolated' must be true or false"},
          {"allow-unsafe-interrupts = 1\n", "t.toml:1: 'allow-unsafe-interrupts' must be true"},
          {"[[group]]\nid = 1\nmsi-isolated = 0\n", "t.toml:3: 'msi-isolated' must be true"},
          {"[[group]\n", "t.toml:1:"},
          {"a = \"\n", "t.toml:1:"},
          // Found by topology_fuzz: toml++ 3.3 has undefined behaviour on this.
          {"\xef\xb9\xbfn = 1\n", "t.toml:1:1: non-ASCII byte"},
          {"kernel = \"6.12\"\n# caf\xc3\xa9\n", "t.toml:2:6: non-ASCII byte"},
      }) {
    Result<Host> h = parse(c.text);
    ASSERT_FALSE(h) << c.text;
    EXPECT_NE(h.error().message.find(c.expect), std::string::npos)
        << c.text << "\n=> " << h.error().message;
  }
}

TEST(Topology, MsiIsolationAndUnsafeInterrupts) {
  Result<Host> h = parse("kernel = \"6.12\"\n");
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_FALSE(h->msi);  // unknown: isolated assumed
  EXPECT_FALSE(h->type1_allow_unsafe_interrupts);
  h = parse(R"(msi-isolated = false
allow-unsafe-interrupts = true
[[group]]
id = 1
[[group.device]]
bdf = "0000:00:02.0"
[[group]]
id = 2
msi-isolated = true
[[group.device]]
bdf = "0000:00:03.0"
[[group.device]]
bdf = "0000:00:04.0"
)");
  ASSERT_TRUE(h) << h.error().message;
  ASSERT_TRUE(h->msi);
  EXPECT_FALSE(h->msi->isolated);
  EXPECT_EQ(h->msi->source, "t.toml:1");
  EXPECT_EQ(h->type1_allow_unsafe_interrupts, true);
  EXPECT_EQ(h->iommufd_allow_unsafe_interrupts, true);
  EXPECT_FALSE(h->groups[0].devices[0].msi);
  for (const Device& d : h->groups[1].devices) {
    ASSERT_TRUE(d.msi) << d.name;
    EXPECT_TRUE(d.msi->isolated);
    EXPECT_EQ(d.msi->source, "t.toml:9");
  }
  EXPECT_FALSE(group_msi_isolation(*h, h->groups[0]).isolated);
  EXPECT_TRUE(group_msi_isolation(*h, h->groups[1]).isolated);
}

TEST(Topology, EveryExampleParses) {
  int count = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(IOVAMAP_SOURCE_DIR) + "/examples")) {
    if (entry.path().extension() != ".toml") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    Result<Host> h = parse_topology(text.str(), entry.path().filename().string());
    EXPECT_TRUE(h) << h.error().message;
    if (h) {
      EXPECT_FALSE(h->groups.empty()) << entry.path();
    }
    ++count;
  }
  EXPECT_GE(count, 4);
}

}  // namespace
}  // namespace iovamap
