// The guest-physical layout rules (vm_layout.h), each with a case that breaks when the rule
// does; numbers marked "QEMU 7.2" are what Debian's qemu-system-x86_64 printed or mapped.
#include "iovamap/vm_layout.h"

#include <gtest/gtest.h>

namespace iovamap {
namespace {

VmConfig vm_of(const char* machine, uint64_t ram) {
  VmConfig vm;
  vm.machine = parse_machine_type(machine).value();
  vm.ram_size = ram;
  return vm;
}

const VmHostCpu kIntel46{46, CpuVendor::kIntel, "test"};
const VmHostCpu kAmd48{48, CpuVendor::kAmd, "test"};

const VmMapping* find(const VmLayout& l, const std::string& name) {
  for (const VmMapping& m : l.mappings)
    if (m.name == name) return &m;
  return nullptr;
}

TEST(VmLayout, Q35SplitsAt2GiBOnceRamReaches0xb0000000) {
  struct Case {
    uint64_t ram, below, above;
  };
  for (Case c : {Case{2 * kGiB, 2 * kGiB, 0}, Case{0xafffffff, 0xafffffff, 0},
                 Case{0xb0000000, 0x80000000, 0x30000000}, Case{16 * kGiB, 2 * kGiB, 14 * kGiB}}) {
    VmLayout l = vm_layout(vm_of("pc-q35-7.2", c.ram), kIntel46, {}).value();
    EXPECT_EQ(l.below_4g, c.below) << c.ram;
    EXPECT_EQ(l.above_4g, c.above) << c.ram;
  }
  VmConfig vm = vm_of("q35", 4 * kGiB);
  vm.max_ram_below_4g = kGiB;
  VmLayout l = vm_layout(vm, kIntel46, {}).value();
  EXPECT_EQ(l.below_4g, kGiB);
  EXPECT_EQ(l.above_4g, 3 * kGiB);
}

TEST(VmLayout, I440fxSplitsAt3GiBWhenItMustSplit) {
  struct Case {
    uint64_t ram, below, above;
  };
  for (Case c : {Case{3 * kGiB, 3 * kGiB, 0}, Case{0xdfffffff, 0xdfffffff, 0},
                 Case{0xe0000000, 0xc0000000, 0x20000000}, Case{4 * kGiB, 3 * kGiB, kGiB}}) {
    VmLayout l = vm_layout(vm_of("pc-i440fx-7.2", c.ram), kIntel46, {}).value();
    EXPECT_EQ(l.below_4g, c.below) << c.ram;
    EXPECT_EQ(l.above_4g, c.above) << c.ram;
  }
  VmLayout old = vm_layout(vm_of("pc-1.6", 4 * kGiB), kIntel46, {}).value();
  EXPECT_EQ(old.below_4g, 0xe0000000u);  // before gigabyte_align: 3.5 GiB low
}

TEST(VmLayout, RamMappingsAndTheSeabiosRom) {
  VmLayout l = vm_layout(vm_of("pc-q35-7.2", 16 * kGiB), kIntel46, {}).value();
  ASSERT_TRUE(find(l, "ram-below-4g"));
  EXPECT_EQ(find(l, "ram-below-4g")->range, (Range{0, 0x7fffffff}));
  EXPECT_EQ(find(l, "ram-above-4g")->range, (Range{0x100000000, 0x47fffffff}));
  EXPECT_EQ(find(l, "pc.bios")->range, (Range{0xfffc0000, 0xffffffff}));
  EXPECT_EQ(l.phys_bits, 40u);  // qemu64: QEMU's default
}

// QEMU 7.2: qemu-system-x86_64 -M pc-q35-7.2 -cpu EPYC,phys-bits=39 -m 2G,slots=2,maxmem=1100G
// exits with exactly this: RAM and the hotplug region moved to 1 TiB.
TEST(VmLayout, AmdRelocationToOneTiBAndPhysBitsTooLow) {
  VmConfig vm = vm_of("pc-q35-7.2", 2 * kGiB);
  vm.cpu.model = "EPYC";
  vm.cpu.phys_bits = 39;
  vm.maxmem = 1100 * kGiB;
  vm.slots = 2;
  VmLayout l = vm_layout(vm, kAmd48, {}).value();
  EXPECT_TRUE(l.amd_relocated);
  EXPECT_EQ(l.above_4g_start, kTiB);
  ASSERT_TRUE(l.device_memory);
  EXPECT_EQ(l.device_memory->first, kTiB);
  EXPECT_EQ(l.device_memory->size(), 1100 * kGiB);  // 1098 GiB + 1 GiB per slot
  ASSERT_TRUE(l.qemu_refusal);
  EXPECT_EQ(*l.qemu_refusal,
            "Address space limit 0x7fffffffff < 0x21affffffff phys-bits too low (39)");

  // Machines before 7.1 keep RAM at 4 GiB; so do Intel vCPUs.
  VmConfig old = vm;
  old.machine = parse_machine_type("pc-q35-7.0").value();
  EXPECT_FALSE(vm_layout(old, kAmd48, {})->amd_relocated);
  VmConfig intel = vm;
  intel.cpu.model = "Skylake-Server";
  EXPECT_FALSE(vm_layout(intel, kAmd48, {})->amd_relocated);
  // Far from the HyperTransport range: no move.
  EXPECT_FALSE(vm_layout(vm_of("pc-q35-7.2", 64 * kGiB), kAmd48, {})->amd_relocated);
}

TEST(VmLayout, HotplugRegionAndDimms) {
  VmConfig vm = vm_of("pc-q35-7.2", 6 * kGiB);
  vm.maxmem = 70 * kGiB;
  vm.slots = 4;
  vm.dimms = {{"d0", 4 * kGiB, 3}, {"d1", 2 * kGiB, 4}};
  VmLayout l = vm_layout(vm, kIntel46, {}).value();
  // RAM above 4 GiB ends at 8 GiB; the region starts there and holds 64 + 4 GiB.
  EXPECT_EQ(l.device_memory, (Range{8 * kGiB, 76 * kGiB - 1}));
  EXPECT_EQ(find(l, "d0")->range, (Range{8 * kGiB, 12 * kGiB - 1}));
  EXPECT_EQ(find(l, "d1")->range, (Range{12 * kGiB, 14 * kGiB - 1}));
  const VmMapping* rest = find(l, "hotplug region (DIMMs plugged later)");
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->range, (Range{14 * kGiB, 76 * kGiB - 1}));
  EXPECT_FALSE(rest->fatal);
  VmConfig bad = vm;
  bad.maxmem = kGiB;
  EXPECT_EQ(vm_layout(bad, kIntel46, {}).error().code, EINVAL);
}

// A DIMM with addr= goes exactly there (hw/mem/memory-device.c); one without takes the first
// gap from the region's start that fits, so it may land below one placed by address. QEMU 7.2,
// paused (tests/vm_lab): d1 at addr=0x300000000, d0 (1 GiB) at 0x200000000, d2 (2 GiB) after
// d1. An address outside the region, or over a DIMM placed before, stops QEMU.
TEST(VmLayout, DimmsGivenAnAddressGoThere) {
  VmConfig vm = vm_of("pc-q35-7.2", 6 * kGiB);
  vm.maxmem = 70 * kGiB;
  vm.slots = 4;
  vm.dimms = {{"d1", kGiB, 3, 12 * kGiB}, {"d0", kGiB, 4}, {"d2", 4 * kGiB, 5}};
  VmLayout l = vm_layout(vm, kIntel46, {}).value();
  EXPECT_EQ(find(l, "d1")->range, (Range{12 * kGiB, 13 * kGiB - 1}));
  EXPECT_EQ(find(l, "d0")->range, (Range{8 * kGiB, 9 * kGiB - 1}));    // the gap below d1
  EXPECT_EQ(find(l, "d2")->range, (Range{13 * kGiB, 17 * kGiB - 1}));  // too big for it
  EXPECT_EQ(find(l, "hotplug region (DIMMs plugged later)")->range,
            (Range{17 * kGiB, 76 * kGiB - 1}));
  // QEMU 7.2's refusals, as tests/vm_lab saw them.
  VmConfig outside = vm;
  outside.dimms = {{"d1", kGiB, 3, 0x8000000000}};
  EXPECT_EQ(vm_layout(outside, kIntel46, {})->qemu_refusal,
            "can't add memory device [0x8000000000:0x40000000], usable range for memory devices "
            "[0x200000000:0x1100000000]");
  VmConfig overlap = vm;
  overlap.dimms = {{"d0", 2 * kGiB, 3}, {"d1", kGiB, 4, 9 * kGiB}};
  EXPECT_EQ(vm_layout(overlap, kIntel46, {})->qemu_refusal,
            "address range conflicts with memory device");
  VmConfig wraps = vm;
  wraps.dimms = {{"d1", 2 * kGiB, 3, kMaxAddress - kGiB}};
  EXPECT_TRUE(vm_layout(wraps, kIntel46, {})->qemu_refusal);
  EXPECT_FALSE(vm_layout(vm, kIntel46, {})->qemu_refusal);
}

TEST(VmLayout, PhysBitsFromTheHostTheLimitOrTheModel) {
  VmConfig vm = vm_of("q35", 4 * kGiB);
  vm.cpu.model = "host";
  EXPECT_EQ(vm_layout(vm, kIntel46, {})->phys_bits, 46u);
  vm.cpu.host_phys_bits_limit = 39;
  EXPECT_EQ(vm_layout(vm, kIntel46, {})->phys_bits, 39u);
  vm.cpu.host_phys_bits_limit.reset();
  vm.cpu.phys_bits = 39;  // ignored: host-phys-bits stays on for -cpu host
  EXPECT_EQ(vm_layout(vm, kIntel46, {})->phys_bits, 46u);
  vm.cpu.host_phys_bits = false;
  EXPECT_EQ(vm_layout(vm, kIntel46, {})->phys_bits, 39u);
  vm.cpu = VmCpu{.model = "host"};
  EXPECT_EQ(vm_layout(vm, VmHostCpu{}, {}).error().code, EINVAL);  // the host's bits unknown
}

TEST(VmLayout, OvmfDynamicWindowIsTheTopEighth) {
  VmConfig vm = vm_of("pc-q35-7.2", 16 * kGiB);
  vm.firmware = GuestFirmware::kOvmf;
  vm.cpu.model = "host";
  vm.ram_bars = {{"lg", 32 * kMiB, 5}};
  std::vector<VmBar> bars = {{"0000:01:00.0", 0, 16 * kGiB, true, true},
                             {"0000:01:00.0", 2, 32 * kMiB, true, true},
                             {"0000:01:00.0", 5, 512 * 1024, false, false}};
  VmLayout l = vm_layout(vm, kIntel46, bars).value();
  EXPECT_EQ(l.pci64_window, (Range{0x380000000000, 0x3fffffffffff}));
  EXPECT_EQ(find(l, "0000:01:00.0 BAR 0")->range.first, 0x380000000000u);
  const VmMapping* lg = find(l, "ivshmem lg BAR 2");
  ASSERT_TRUE(lg);
  EXPECT_TRUE(lg->fatal);
  EXPECT_TRUE(lg->firmware_placed);
  EXPECT_EQ(lg->range.first, 0x380400000000u);
  EXPECT_FALSE(find(l, "0000:01:00.0 BAR 2")->fatal);
  // Capped at 39 bits, the window is [0x7000000000, 0x7fffffffff].
  vm.cpu.host_phys_bits_limit = 39;
  EXPECT_EQ(vm_layout(vm, kIntel46, bars)->pci64_window, (Range{0x7000000000, 0x7fffffffff}));
  // 40 bits on Intel are not trusted: the classic window after RAM, 32 GiB aligned.
  vm.cpu = VmCpu{.model = "Skylake-Client"};
  EXPECT_EQ(vm_layout(vm, kIntel46, bars)->pci64_window, (Range{32 * kGiB, 64 * kGiB - 1}));
}

TEST(VmLayout, SeabiosKeepsSmallBarsBelow4GiBAndMovesBigOnesAfterRam) {
  VmConfig vm = vm_of("pc-q35-7.2", 16 * kGiB);
  std::vector<VmBar> small = {{"0000:01:00.0", 0, 256 * kMiB, true, true}};
  VmLayout l = vm_layout(vm, kIntel46, small).value();
  // From the top of the 32-bit window down (0xfec00000 - 256 MiB, aligned down).
  EXPECT_EQ(find(l, "0000:01:00.0 BAR 0")->range, (Range{0xe0000000, 0xefffffff}));
  std::vector<VmBar> big = {{"0000:01:00.0", 0, 16 * kGiB, true, true}};
  l = vm_layout(vm, kIntel46, big).value();
  // After RAM (18 GiB), aligned to the BAR: 32 GiB.
  EXPECT_EQ(find(l, "0000:01:00.0 BAR 0")->range, (Range{32 * kGiB, 48 * kGiB - 1}));
}

// Measured in tests/vm_lab (QEMU 7.2, SeaBIOS 1.16.2, query-pci after the firmware ran).
TEST(VmLayout, SeabiosIvshmemAsMeasured) {
  struct Case {
    const char* machine;
    uint64_t ram, maxmem, bar, at;
  };
  for (Case c : {Case{"pc-q35-7.2", kGiB, 0, 256 * kMiB, 0xe0000000},
                 Case{"pc-i440fx-7.2", 2 * kGiB, 0, kGiB, 0x80000000},
                 Case{"pc-i440fx-7.2", 3 * kGiB, 0, 512 * kMiB, 0xc0000000},
                 Case{"pc-q35-7.2", 8 * kGiB, 0, 4 * kGiB, 0x300000000},
                 Case{"pc-q35-7.2", 2 * kGiB, 10 * kGiB, 64 * kGiB, 0x1000000000}}) {
    VmConfig vm = vm_of(c.machine, c.ram);
    if (c.maxmem) {
      vm.maxmem = c.maxmem;
      vm.slots = 2;
    }
    vm.ram_bars = {{"ivs0", c.bar, 1}};
    VmLayout l = vm_layout(vm, kAmd48, {}).value();
    const VmMapping* m = find(l, "ivshmem ivs0 BAR 2");
    ASSERT_TRUE(m) << c.machine << " " << c.ram;
    EXPECT_EQ(m->range, (Range{c.at, c.at + c.bar - 1})) << c.machine << " " << c.ram;
    EXPECT_EQ(m->kind, VmMappingKind::kRamBar);
    EXPECT_FALSE(find(l, "ivshmem ivs0 BAR 0"));  // sized, never DMA-mapped
  }
}

// pciinit.c pci_bios_map_devices: the 64-bit non-prefetchable region comes first, the
// prefetchable one after it, each aligned to its largest BAR and 1 GiB.
TEST(VmLayout, SeabiosPutsTheNonPrefetchable64BitRegionFirst) {
  VmConfig vm = vm_of("pc-q35-7.2", 16 * kGiB);
  vm.ram_bars = {{"ivs0", 64 * kGiB, 1}};
  std::vector<VmBar> bars = {{"0000:01:00.0", 0, 16 * kGiB, true, false},
                             {"0000:01:00.0", 2, 32 * kMiB, false, false}};
  VmLayout l = vm_layout(vm, kIntel46, bars).value();
  EXPECT_EQ(find(l, "0000:01:00.0 BAR 0")->range, (Range{32 * kGiB, 48 * kGiB - 1}));
  EXPECT_EQ(find(l, "ivshmem ivs0 BAR 2")->range, (Range{64 * kGiB, 128 * kGiB - 1}));
  EXPECT_EQ(l.pci64_window, (Range{32 * kGiB, 128 * kGiB - 1}));
  // The 32-bit BAR stays below 4 GiB, at the top of the window.
  EXPECT_EQ(find(l, "0000:01:00.0 BAR 2")->range, (Range{0xfc000000, 0xfdffffff}));
}

}  // namespace
}  // namespace iovamap
