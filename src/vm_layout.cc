// The guest-physical layout of a VM (include/iovamap/vm_layout.h). Each rule says where it
// lives in QEMU, edk2 or SeaBIOS, in our own words; docs/vm-check.md collects them.
#include "iovamap/vm_layout.h"

#include <algorithm>
#include <bit>
#include <cstdio>

namespace iovamap {
namespace {

constexpr uint64_t k4G = uint64_t{1} << 32;
// hw/i386/pc.c: the AMD HyperTransport range [0xfd00000000, 1 TiB) and where RAM above 4 GiB
// moves to (AMD_HT_START, AMD_ABOVE_1TB_START).
constexpr uint64_t kAmdHtStart = 0xfd00000000;
constexpr uint64_t kAmdAbove1Tb = uint64_t{1} << 40;
// SeaBIOS src/fw/pciinit.c BUILD_PCIMEM_END: the 32-bit window ends below the IO-APIC.
constexpr uint64_t kPciMem32End = 0xfec00000;

uint64_t align_up(uint64_t v, uint64_t a) {
  if (a == 0) return v;
  u128 r = (static_cast<u128>(v) + a - 1) / a * a;
  return r > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(r);
}

uint64_t pow2_floor(uint64_t v) {
  return v == 0 ? 0 : uint64_t{1} << (63 - std::countl_zero(v));
}

// The address right after r, or UINT64_MAX when r ends the space.
uint64_t after(const Range& r) {
  return r.last == UINT64_MAX ? UINT64_MAX : r.last + 1;
}

// Ranges are closed; an empty size gives none.
std::optional<Range> span(uint64_t first, uint64_t size) {
  if (size == 0) return std::nullopt;
  u128 last = static_cast<u128>(first) + size - 1;
  if (last > UINT64_MAX) return Range{first, UINT64_MAX};
  return Range{first, static_cast<uint64_t>(last)};
}

struct PhysBits {
  unsigned bits = 40;
  std::string rule;
};

// target/i386/cpu.c x86_cpu_realizefn and host-cpu.c host_cpu_realizefn: with
// host-phys-bits the host's width (capped by host-phys-bits-limit); otherwise phys-bits, 40
// when unset (TCG_PHYS_ADDR_BITS). -cpu host and -cpu max turn host-phys-bits on
// (host_cpu_max_instance_init, QEMU 6.1+) before the user's properties apply, so
// host-phys-bits=off undoes it and phys-bits=N alone does not.
Result<PhysBits> phys_bits_of(const VmCpu& cpu, const VmHostCpu& host) {
  bool host_bits = cpu.host_phys_bits.value_or(cpu.is_host_model());
  if (host_bits) {
    if (!host.phys_bits)
      return make_error(EINVAL, "-cpu " + cpu.model +
                                    " takes the host's physical address bits, which are not "
                                    "known: read from /proc/cpuinfo on a live host or a "
                                    "snapshot, or give --host-phys-bits");
    PhysBits p{
        *host.phys_bits,
        "the host's, from " + host.source + ": host-phys-bits is on" +
            (cpu.host_phys_bits ? "" : " (the default of -cpu " + cpu.model + ", QEMU 6.1+)")};
    if (cpu.host_phys_bits_limit && *cpu.host_phys_bits_limit != 0 &&
        p.bits > *cpu.host_phys_bits_limit) {
      p.bits = *cpu.host_phys_bits_limit;
      p.rule += ", capped by host-phys-bits-limit=" + std::to_string(p.bits);
    }
    return p;
  }
  if (cpu.phys_bits) return PhysBits{*cpu.phys_bits, "phys-bits=" + std::to_string(*cpu.phys_bits)};
  return PhysBits{
      40, "QEMU's default for -cpu " + cpu.model + " (40: target/i386/cpu.c TCG_PHYS_ADDR_BITS)"};
}

struct Bar64 {
  std::string name;
  uint64_t size;
  bool ram;  // RAM-backed (ivshmem)
  size_t line;
  bool prefetch = true;
  bool is64 = true;
  bool placed = true;  // false: only sized (ivshmem's register BAR 0), not a mapping
};

// SeaBIOS 1.16.2 src/fw/pciinit.c: one root-bus memory region (MEM or PREFMEM) and its BARs,
// largest first (pci_region_create_entry keeps them sorted), each at least 4 KiB
// (PCI_DEVICE_MEM_MIN).
struct SeabiosRegion {
  std::vector<const Bar64*> bars;
  uint64_t base = 0;
  u128 sum() const {
    u128 s = 0;
    for (const Bar64* b : bars) s += std::max<uint64_t>(b->size, 4096);
    return s;
  }
  // pci_region_align: the first (largest) entry's, 1 when empty.
  uint64_t align() const { return bars.empty() ? 1 : std::max<uint64_t>(bars[0]->size, 4096); }
};

uint64_t align_down(uint64_t v, uint64_t a) {
  return a == 0 ? v : v / a * a;
}

// pciinit.c pci_bios_init_root_regions_mem: the region with the smaller alignment goes at the
// top of the 32-bit window (ending at 0xfec00000), the other right below it, each base
// aligned down; false when the lower one starts below pcimem_start.
bool seabios_place_32(SeabiosRegion& mem, SeabiosRegion& pref, uint64_t pcimem_start) {
  SeabiosRegion* top = &pref;
  SeabiosRegion* below = &mem;
  if (mem.align() < pref.align()) std::swap(top, below);
  u128 sum_top = top->sum();
  if (sum_top > kPciMem32End) return false;
  top->base = align_down(kPciMem32End - static_cast<uint64_t>(sum_top), top->align());
  u128 sum_below = below->sum();
  if (sum_below > top->base) return false;
  below->base = align_down(top->base - static_cast<uint64_t>(sum_below), below->align());
  return below->base >= pcimem_start;
}

}  // namespace

std::string_view vm_mapping_kind_name(VmMappingKind kind) {
  switch (kind) {
    case VmMappingKind::kRam:
      return "RAM";
    case VmMappingKind::kRom:
      return "ROM";
    case VmMappingKind::kDimm:
      return "DIMM";
    case VmMappingKind::kRamBar:
      return "RAM-backed BAR";
    case VmMappingKind::kAssignedBar:
      return "assigned BAR";
  }
  return "?";
}

Result<VmLayout> vm_layout(const VmConfig& vm, const VmHostCpu& host_cpu,
                           const std::vector<VmBar>& bars) {
  VmLayout l;
  const MachineType& m = vm.machine;
  const bool q35 = m.family == MachineFamily::kQ35;
  const std::string machine = "machine " + m.name;
  if (m.major == 0)
    l.assumptions.push_back(m.name +
                            " has no version: the newest machine of the QEMU that runs "
                            "it (rules of QEMU 7.2 and later applied)");
  if (vm.ram_size == 0) return make_error(EINVAL, vm.file + ": no RAM (-m 0)");

  IOVAMAP_ASSIGN_OR_RETURN(PhysBits pb, phys_bits_of(vm.cpu, host_cpu));
  l.phys_bits = pb.bits;
  l.phys_bits_rule = pb.rule;
  const CpuVendor vendor = vm.cpu.vendor(host_cpu.vendor);

  // ---- RAM below and above 4 GiB ----
  if (vm.max_ram_below_4g && *vm.max_ram_below_4g > k4G)
    return make_error(EINVAL, vm.file + ": max-ram-below-4g " + hex(*vm.max_ram_below_4g) +
                                  " is above 4 GiB (QEMU refuses it)");
  uint64_t lowmem = 0;
  if (q35) {
    // pc_q35.c pc_q35_init: 2 GiB low when RAM reaches 0xb0000000 (room for MMCONFIG at
    // 0xb0000000 and the 32-bit PCI hole), else 0xb0000000; then min(that, max-ram-below-4g,
    // default 4 GiB).
    lowmem = vm.ram_size >= 0xb0000000 ? 0x80000000 : 0xb0000000;
    uint64_t cap = vm.max_ram_below_4g.value_or(0) ? *vm.max_ram_below_4g : k4G;
    lowmem = std::min(lowmem, cap);
    l.split_rule = "q35 (hw/i386/pc_q35.c pc_q35_init): " + hex(lowmem) + " of RAM below 4 GiB";
  } else {
    // pc_piix.c pc_init1: max-ram-below-4g defaults to 0xe0000000; a machine that must split
    // (RAM >= that) moves the split down to 3 GiB (gigabyte_align, every machine since 1.7).
    uint64_t max_below = vm.max_ram_below_4g.value_or(0) ? *vm.max_ram_below_4g : 0xe0000000;
    lowmem = max_below;
    if (vm.ram_size >= max_below && m.at_least(1, 7))
      lowmem = std::min<uint64_t>(lowmem, 0xc0000000);
    l.split_rule = "i440fx (hw/i386/pc_piix.c pc_init1): " + hex(lowmem) + " of RAM below 4 GiB";
  }
  if (vm.ram_size >= lowmem) {
    l.below_4g = lowmem;
    l.above_4g = vm.ram_size - lowmem;
  } else {
    l.below_4g = vm.ram_size;
  }

  // ---- The hotplug region (pc.c pc_memory_init): it starts at the first 1 GiB boundary after
  // RAM above 4 GiB and holds maxmem - RAM, plus 1 GiB per slot so each DIMM can be aligned
  // (enforce_aligned_dimm, machines 2.2+). ----
  if (vm.maxmem != 0 && vm.maxmem < vm.ram_size)
    return make_error(EINVAL, vm.file + ": maxmem " + human_size(vm.maxmem) +
                                  " is below the RAM size " + human_size(vm.ram_size) +
                                  " (QEMU refuses it)");
  const bool hotplug = vm.maxmem > vm.ram_size;
  u128 devmem_size = 0;
  if (hotplug) {
    devmem_size = vm.maxmem - vm.ram_size;
    if (m.at_least(2, 2)) devmem_size += static_cast<u128>(vm.slots) * kGiB;
  }
  l.pci_hole64_size = vm.pci_hole64_size.value_or(q35 ? 32 * kGiB : 2 * kGiB);

  // The highest address QEMU may use (pc.c pc_max_used_gpa / pc_pci_hole64_start): the end of
  // the hotplug region (or of RAM), up to 1 GiB, plus the 64-bit PCI hole.
  auto max_used = [&](uint64_t above_start) -> u128 {
    u128 end = static_cast<u128>(above_start) + l.above_4g;
    if (hotplug)
      end = static_cast<u128>(
                align_up(static_cast<uint64_t>(std::min<u128>(end, UINT64_MAX)), kGiB)) +
            devmem_size;
    u128 hole64 = (end + kGiB - 1) / kGiB * kGiB;
    return hole64 + l.pci_hole64_size - 1;
  };

  // ---- AMD: RAM above 4 GiB moves to 1 TiB when the highest address QEMU may use reaches the
  // HyperTransport range (pc.c pc_memory_init, QEMU 7.1, commits 8504f129/b3e6982b; only for an
  // AMD vCPU and machines 7.1+: enforce_amd_1tb_hole). ----
  l.above_4g_start = k4G;
  if (vendor == CpuVendor::kAmd && m.at_least(7, 1) && max_used(k4G) >= kAmdHtStart) {
    l.above_4g_start = kAmdAbove1Tb;
    l.amd_relocated = true;
  }
  if (vendor == CpuVendor::kAmd && !m.at_least(7, 1) && max_used(k4G) >= kAmdHtStart)
    l.assumptions.push_back(machine +
                            " is older than 7.1: RAM is not moved above the AMD "
                            "HyperTransport range [0xfd00000000, 0xffffffffff]");

  // QEMU refuses to start when that address is beyond phys-bits (pc.c pc_memory_init, 7.1+).
  u128 used = max_used(l.above_4g_start);
  u128 limit = (static_cast<u128>(1) << l.phys_bits) - 1;
  if (used > limit) {
    l.qemu_refusal = "Address space limit " + hex(static_cast<uint64_t>(limit)) + " < " +
                     (used > UINT64_MAX ? std::string("2^64") : hex(static_cast<uint64_t>(used))) +
                     " phys-bits too low (" + std::to_string(l.phys_bits) + ")";
  }

  // ---- What VFIO maps at start (hw/vfio/common.c vfio_listener_region_add: every RAM
  // section, read-only ones too). ----
  if (auto r = span(0, l.below_4g))
    l.mappings.push_back(
        {"ram-below-4g", VmMappingKind::kRam, *r, true, true, false, l.split_rule, vm.ram_line});
  if (vm.firmware == GuestFirmware::kSeabios) {
    // pc_sysfw.c: the BIOS image (bios-256k.bin) as read-only RAM at the top of 4 GiB.
    l.mappings.push_back({"pc.bios", VmMappingKind::kRom, Range{k4G - 256 * 1024, k4G - 1}, true,
                          true, false,
                          "SeaBIOS bios-256k.bin, read-only RAM below 4 GiB (hw/i386/pc_sysfw.c)",
                          vm.firmware_line});
  }
  if (auto r = span(l.above_4g_start, l.above_4g))
    l.mappings.push_back({"ram-above-4g", VmMappingKind::kRam, *r, true, true, false,
                          l.amd_relocated
                              ? "moved to 1 TiB: AMD vCPU, the VM reaches the HyperTransport "
                                "range (hw/i386/pc.c pc_memory_init, QEMU 7.1+)"
                              : "RAM above 4 GiB starts at 4 GiB (hw/i386/pc.c pc_memory_init)",
                          vm.ram_line});
  uint64_t ram_end = l.above_4g ? l.above_4g_start + l.above_4g : k4G;
  uint64_t reserved_end = 0;  // fw_cfg etc/reserved-memory-end
  if (hotplug) {
    uint64_t base = align_up(l.above_4g ? ram_end : l.above_4g_start, kGiB);
    // An end past 2^64 is cut at 2^64-1 (QEMU refuses such a machine anyway).
    l.device_memory = span(base, static_cast<uint64_t>(std::min<u128>(devmem_size, UINT64_MAX)));
    reserved_end = l.device_memory && l.device_memory->last != UINT64_MAX
                       ? align_up(l.device_memory->last + 1, kGiB)
                       : UINT64_MAX;
    // DIMMs, in order (hw/mem/memory-device.c memory_device_get_free_addr): one given an
    // address (addr=) goes exactly there, and QEMU refuses to start when that is outside the
    // region or overlaps a DIMM placed before it; any other goes to the first free gap from
    // the region's start that fits it, aligned to 2 MiB (an assumption: the backend's page size
    // and QEMU's RAM alignment).
    std::vector<Range> placed;  // sorted by first
    size_t i = 0;
    for (const VmDimm& d : vm.dimms) {
      if (d.size == 0) continue;
      const std::string name = d.id.empty() ? "dimm" + std::to_string(i) : d.id;
      std::optional<Range> r;
      if (d.addr) {
        // QEMU stops at the device (hw/mem/memory-device.c memory_device_get_free_addr), with
        // the message QEMU 7.2 printed in tests/vm_lab.
        r = span(*d.addr, d.size);
        std::optional<std::string> refusal;
        if (!r || !l.device_memory || r->first < l.device_memory->first ||
            r->last > l.device_memory->last) {
          const uint64_t region_size =
              l.device_memory ? l.device_memory->last - l.device_memory->first + 1 : 0;
          refusal = "can't add memory device [" + hex(*d.addr) + ":" + hex(d.size) +
                    "], usable range for memory devices [" + hex(base) + ":" + hex(region_size) +
                    "]";
        } else {
          for (const Range& p : placed)
            if (p.overlaps(*r)) refusal = "address range conflicts with memory device";
        }
        if (refusal) {
          if (!l.qemu_refusal) l.qemu_refusal = *refusal;
          ++i;
          continue;
        }
      } else {
        uint64_t next = base;
        for (const Range& p : placed) {
          next = align_up(next, 2 * kMiB);
          if (p.first > next && p.first - next >= d.size) break;
          if (p.last >= next) next = after(p);
        }
        next = align_up(next, 2 * kMiB);
        r = span(next, d.size);
      }
      if (r) {
        l.mappings.push_back({name, VmMappingKind::kDimm, *r, true, true, false,
                              d.addr ? "placed at addr=" + hex(*d.addr) +
                                           " in the hotplug region (hw/mem/memory-device.c)"
                                     : "plugged into the hotplug region at " + hex(base) +
                                           " (hw/i386/pc.c pc_memory_init: after RAM, 1 GiB "
                                           "aligned)",
                              d.line});
        placed.insert(std::upper_bound(placed.begin(), placed.end(), *r), *r);
      }
      ++i;
    }
    // The first free address after the last DIMM, for the rest of the region below.
    uint64_t next = base;
    if (!placed.empty()) next = after(placed.back());
    // What is left of the region takes the DIMMs plugged at run time: one that lands where
    // the IOMMU cannot map stops QEMU then (a hardware error), so it is checked as a warning.
    if (l.device_memory && next <= l.device_memory->last)
      l.mappings.push_back({"hotplug region (DIMMs plugged later)", VmMappingKind::kDimm,
                            Range{next, l.device_memory->last}, false, false, false,
                            "the rest of the hotplug region (hw/i386/pc.c pc_memory_init): a DIMM "
                            "plugged there is mapped when plugged",
                            vm.ram_line});
  } else if (!vm.dimms.empty()) {
    return make_error(EINVAL, vm.file + ":" + std::to_string(vm.dimms.front().line) +
                                  ": a DIMM without a hotplug region (-m maxmem= and slots=)");
  }

  // ---- 64-bit BARs: the firmware places them. ----
  std::vector<Bar64> bars64;
  std::vector<Bar64> bars32;
  for (const VmRamBar& b : vm.ram_bars)
    bars64.push_back({"ivshmem " + b.id + " BAR 2", b.size, true, b.line});
  for (const VmBar& b : bars) {
    if (b.size < 4096) continue;  // not mmap'd by vfio-pci, so never DMA-mapped
    std::string name = b.device + " BAR " + std::to_string(b.index);
    size_t line = 0;
    for (const VmHostDevice& d : vm.host_devices)
      if (b.device.find(d.address) != std::string::npos ||
          d.address.find(b.device.substr(5)) != std::string::npos)
        line = d.line;
    (b.is64 ? bars64 : bars32).push_back({name, b.size, false, line, b.prefetch, b.is64});
  }
  std::stable_sort(bars64.begin(), bars64.end(),
                   [](const Bar64& a, const Bar64& b) { return a.size > b.size; });
  std::stable_sort(bars32.begin(), bars32.end(),
                   [](const Bar64& a, const Bar64& b) { return a.size > b.size; });

  uint64_t first_free = std::max(ram_end, reserved_end);
  if (vm.firmware == GuestFirmware::kOvmf) {
    // edk2 OvmfPkg/Library/PlatformInitLib/MemDetect.c (edk2-stable202211, Debian 12's OVMF):
    // the classic window starts at the first 1 GiB boundary after RAM and the hotplug region,
    // aligned to its size rounded down to a power of two; 32 GiB, or X-PciMmio64Mb.
    uint64_t size = vm.ovmf_mmio64_mb ? align_up(*vm.ovmf_mmio64_mb << 20, kGiB) : 32 * kGiB;
    uint64_t base = align_up(align_up(first_free, kGiB), pow2_floor(size));
    l.pci64_rule =
        "OVMF classic window (MemDetect.c PlatformGetFirstNonAddress): after RAM and "
        "the hotplug region";
    // PlatformAddressWidthFromCpuid: phys-bits are trusted at 41 and above, or 36/39 on
    // Intel, 40 on AMD; capped at 47 (edk2-stable202211; 46 from 202308), and at 40 without
    // 1 GiB pages. Then PlatformDynamicMmioWindow: the window is the top eighth of the
    // address space when that is larger than the classic one and above it.
    unsigned bits = l.phys_bits;
    bool trusted = bits >= 41 || (vendor == CpuVendor::kIntel && (bits == 36 || bits == 39)) ||
                   (vendor == CpuVendor::kAmd && bits == 40);
    if (trusted) {
      if (bits > 47) bits = 47;
      if (!vm.cpu.has_1g_pages() && bits > 40) bits = 40;
      uint64_t space = uint64_t{1} << bits;
      uint64_t mmio = uint64_t{1} << (bits - 3);
      if (size < mmio && static_cast<u128>(base) + mmio < space) {
        base = space - mmio;
        size = mmio;
        l.pci64_rule =
            "OVMF dynamic window (MemDetect.c PlatformDynamicMmioWindow, "
            "edk2-stable202211+): the top eighth of the " +
            std::to_string(bits) + "-bit address space";
      }
    } else {
      l.pci64_rule += " (OVMF does not trust " + std::to_string(l.phys_bits) + " phys-bits on " +
                      std::string(cpu_vendor_name(vendor)) + ": no dynamic window)";
    }
    l.pci64_window = span(base, size);
    l.assumptions.push_back(
        "OVMF is edk2-stable202211 (Debian 12's): from 202302 OVMF moves its window below an "
        "AMD HyperTransport E820 entry, from 202308 it caps phys-bits at 46, from 202505 "
        "X-PciMmio64Mb turns the dynamic window off");
  } else {
    // SeaBIOS 1.16.2 (Debian 12's) src/fw/pciinit.c, measured in tests/vm_lab: the root
    // bus's BARs form two regions, MEM (non-prefetchable: ivshmem's 256-byte register BAR 0
    // among them) and PREFMEM (ivshmem's BAR 2), placed from the top of the 32-bit window
    // down (pci_bios_init_root_regions_mem). The window starts at pcimem_start: on q35 above
    // MMCONFIG (mch_mem_addr_setup: 0xc0000000), on i440fx at 2 GiB or 3 GiB when RAM below
    // 4 GiB ends below them, else where it ends (i440fx_mem_addr_setup). Other devices' BARs
    // (a disk controller, a VGA) are not known here and are left out.
    uint64_t start32 = q35 ? 0xc0000000
                           : std::max<uint64_t>(l.below_4g, l.below_4g <= 0x80000000   ? 0x80000000
                                                            : l.below_4g <= 0xc0000000 ? 0xc0000000
                                                                                       : 0);
    std::vector<Bar64> all;
    for (const VmRamBar& b : vm.ram_bars) {
      all.push_back({"ivshmem " + b.id + " BAR 0", 256, false, b.line, false, false, false});
    }
    for (const auto* list : {&bars64, &bars32}) all.insert(all.end(), list->begin(), list->end());
    std::stable_sort(all.begin(), all.end(),
                     [](const Bar64& a, const Bar64& b) { return a.size > b.size; });
    SeabiosRegion mem, pref;
    for (const Bar64& b : all) (b.prefetch ? pref : mem).bars.push_back(&b);
    SeabiosRegion mem64, pref64;
    bool high = !seabios_place_32(mem, pref, start32);
    if (!high) {
      l.pci64_window = Range{start32, kPciMem32End - 1};
      l.pci64_rule =
          "SeaBIOS 1.16.2: every BAR fits the 32-bit window, placed from its top down "
          "(src/fw/pciinit.c pci_bios_init_root_regions_mem)";
    } else {
      // pci_bios_map_devices: every 64-bit BAR moves out (pci_region_migrate_64bit_entries)
      // and the rest are placed again below 4 GiB (SeaBIOS panics when they still do not
      // fit). The 64-bit MEM region starts after RAM above 4 GiB and etc/reserved-memory-end,
      // aligned to its largest BAR and 1 GiB; the 64-bit PREFMEM region follows it, aligned
      // the same way; the window ends 1 GiB aligned.
      for (auto* r : {&mem, &pref}) {
        SeabiosRegion& to = r == &mem ? mem64 : pref64;
        std::vector<const Bar64*> keep;
        for (const Bar64* b : r->bars) (b->is64 ? to.bars : keep).push_back(b);
        r->bars = keep;
      }
      if (!seabios_place_32(mem, pref, start32))
        l.assumptions.push_back(
            "SeaBIOS 1.16.2 finds no room for the 32-bit BARs below 4 GiB and stops "
            "(\"PCI: out of 32bit address space\")");
      mem64.base = align_up(align_up(std::max(ram_end, reserved_end), mem64.align()), kGiB);
      u128 mem64_end = mem64.base + mem64.sum();
      pref64.base =
          mem64_end > UINT64_MAX
              ? UINT64_MAX
              : align_up(align_up(static_cast<uint64_t>(mem64_end), pref64.align()), kGiB);
      u128 end = static_cast<u128>(pref64.base) + pref64.sum();
      end = (end + kGiB - 1) / kGiB * kGiB;
      l.pci64_window =
          Range{mem64.base, end > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(end - 1)};
      l.pci64_rule =
          "SeaBIOS 1.16.2: the 32-bit window is too small, 64-bit BARs go right "
          "after RAM and the hotplug region (src/fw/pciinit.c pci_bios_map_devices)";
    }
    // pci_region_map_entries: a region's BARs from its base up, largest first.
    for (const SeabiosRegion* r : {&mem, &pref, &mem64, &pref64}) {
      u128 next = r->base;
      for (const Bar64* b : r->bars) {
        if (next > UINT64_MAX) break;
        std::optional<Range> range = span(static_cast<uint64_t>(next), b->size);
        next += std::max<uint64_t>(b->size, 4096);
        if (!b->placed || !range) continue;
        bool in_64 = r == &mem64 || r == &pref64;
        l.mappings.push_back(
            {b->name, b->ram ? VmMappingKind::kRamBar : VmMappingKind::kAssignedBar, *range, b->ram,
             false, true,
             (in_64 ? l.pci64_rule
                    : std::string("SeaBIOS 1.16.2: in the 32-bit window, from its top down "
                                  "(src/fw/pciinit.c pci_bios_init_root_regions_mem)")) +
                 "; largest first (pci_region_map_entries)",
             b->line});
      }
    }
    bars64.clear();
    bars32.clear();
    l.assumptions.push_back(
        "SeaBIOS is 1.16.2 (Debian 12's): from 1.16.3 it puts the 64-bit "
        "window at the top of the address space when phys-bits are trusted");
  }
  // Pack the BARs from the window's base, largest first, each aligned to its size: OVMF's
  // host bridge tries each aligned address from the aperture's base up (edk2 MdeModulePkg
  // PciHostBridgeDxe PciHostBridge.c AllocateResource), its PCI bus driver orders a root
  // bridge's BARs by alignment (PciBusDxe). Measured in tests/vm_lab for one and two
  // ivshmem BARs.
  if (l.pci64_window) {
    uint64_t next = l.pci64_window->first;
    for (const Bar64& b : bars64) {
      next = align_up(next, b.size);
      std::optional<Range> r = span(next, b.size);
      if (!r) continue;
      l.mappings.push_back({b.name, b.ram ? VmMappingKind::kRamBar : VmMappingKind::kAssignedBar,
                            *r, b.ram, false, true,
                            l.pci64_rule + "; packed largest first (an approximation of the "
                                           "firmware's allocator)",
                            b.line});
      next = after(*r);
    }
  }
  if (!bars32.empty()) {
    uint64_t next = q35 ? 0xc0000000 : std::max<uint64_t>(l.below_4g, 0xc0000000);
    for (const Bar64& b : bars32) {
      next = align_up(next, b.size);
      if (auto r = span(next, b.size)) {
        l.mappings.push_back({b.name, VmMappingKind::kAssignedBar, *r, false, false, true,
                              "32-bit BAR in the 32-bit PCI window (packed, approximate)", b.line});
        next = r->last + 1;
      }
    }
  }

  // A vIOMMU changes nothing here: until the guest turns translation on, the devices' address
  // space is guest memory itself (hw/i386/intel_iommu.c vtd_switch_address_space), so VFIO
  // maps all of it at start all the same.
  return l;
}

}  // namespace iovamap
