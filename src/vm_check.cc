// Checking a VM against its container, and the smallest fix (include/iovamap/vm_check.h).
#include "iovamap/vm_check.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>

namespace iovamap {
namespace {

// hw/vfio/common.c (7.2-8.2: vfio_dma_map; 9.0+, container-base.c: vfio_container_dma_map).
std::string dma_map_call(const VmConfig& vm, const VmMapping& m, int code) {
  std::string fn = vm.machine.major >= 9 ? "vfio_container_dma_map" : "vfio_dma_map";
  u128 size = static_cast<u128>(m.range.last) - m.range.first + 1;
  std::string size_text =
      size > UINT64_MAX ? "0x10000000000000000" : hex(static_cast<uint64_t>(size));
  return fn + "(..., " + hex(m.range.first) + ", " + size_text + ", ...) = -" +
         std::to_string(code) + " (" + std::strerror(code) + ")";
}

std::string qemu_message(const VmConfig& vm, const VmMapping& m, int code,
                         const std::vector<uint32_t>& groups) {
  std::string call = dma_map_call(vm, m, code);
  if (m.kind == VmMappingKind::kAssignedBar) {
    // A ram_device region: QEMU reports it and runs on (hw/vfio/common.c
    // vfio_listener_region_add); 10.0+ adds that peer-to-peer DMA to the BAR will not work.
    return call;
  }
  if (m.at_start) {
    std::string dev = vm.host_devices.empty() ? "DEVICE" : vm.host_devices.front().address;
    return "vfio " + dev + ": failed to setup container for group " +
           (groups.empty() ? std::string("N") : std::to_string(groups.front())) +
           ": memory listener initialization failed: Region " + m.name + ": " + call;
  }
  // After start (the firmware programs the BAR): reported, then a hardware error stops QEMU.
  return call + "; then: hardware error: vfio: DMA mapping failed, unable to continue";
}

struct Evaluation {
  VmLayout layout;
  std::vector<VmMappingVerdict> verdicts;
  std::optional<std::string> viommu_problem;
  bool viommu_fatal = false;
  unsigned fatal = 0;
  unsigned warnings = 0;

  uint64_t score() const { return uint64_t{fatal} * 1000 + warnings; }
};

unsigned default_aw_bits(const VmConfig& vm) {
  const VmViommu& v = *vm.viommu;
  if (v.model == "intel-iommu") return vm.machine.at_least(9, 2) ? 48 : 39;  // ddd84fd0 (9.2)
  if (v.model == "virtio-iommu") return vm.machine.at_least(9, 0) ? 39 : 64;
  return 48;
}

Result<Evaluation> evaluate(const VmConfig& vm, const VmCheckHost& h, unsigned host_aw) {
  Evaluation e;
  IOVAMAP_ASSIGN_OR_RETURN(e.layout, vm_layout(vm, h.cpu, h.bars));
  IOVAMAP_ASSIGN_OR_RETURN(MappingChecker checker,
                           MappingChecker::create(*h.host, h.group_ids, h.policy));
  if (e.layout.qemu_refusal) ++e.fatal;
  for (const VmMapping& m : e.layout.mappings) {
    MappingVerdict v = checker.check({.iova = m.range.first,
                                      .size = static_cast<u128>(m.range.last) - m.range.first + 1,
                                      .line = m.line});
    std::string msg;
    if (!v.ok()) {
      msg = qemu_message(vm, m, v.refusal->code, h.group_ids);
      if (m.fatal) {
        ++e.fatal;
      } else {
        ++e.warnings;
      }
    }
    e.verdicts.push_back({m, std::move(v), std::move(msg)});
  }
  if (vm.viommu) {
    unsigned aw = vm.viommu->aw_bits.value_or(default_aw_bits(vm));
    if (aw > host_aw) {
      // hw/i386/intel_iommu.c vtd_check_hiod (QEMU 9.1+, 77f6efc0) refuses the device; older
      // QEMU starts and the guest's IOVAs above the host's reach fail when it maps them.
      e.viommu_fatal = vm.viommu->model == "intel-iommu" && vm.machine.at_least(9, 1);
      e.viommu_problem = vm.viommu->model + " aw-bits " + std::to_string(aw) + " > host aw-bits " +
                         std::to_string(host_aw) +
                         (e.viommu_fatal ? " (QEMU 9.1+ refuses the device)"
                                         : " (QEMU before 9.1 starts; the guest's DMA to IOVAs "
                                           "above the host's reach fails when it maps them)");
      if (e.viommu_fatal) {
        ++e.fatal;
      } else {
        ++e.warnings;
      }
    }
  }
  return e;
}

// ---- The fix, written as the user would write it. ----

std::string cpu_text(const VmConfig& vm, bool host_bits, unsigned bits) {
  const std::string& model = vm.cpu.model;
  switch (vm.format) {
    case VmFormat::kQemu:
      return host_bits ? "-cpu " + model + ",host-phys-bits-limit=" + std::to_string(bits) +
                             "  (add host-phys-bits-limit to your -cpu option)"
                       : "-cpu " + model + ",phys-bits=" + std::to_string(bits) +
                             (vm.cpu.host_phys_bits ? ",host-phys-bits=off" : "");
    case VmFormat::kLibvirt:
      return host_bits ? "<cpu mode='host-passthrough'> ... <maxphysaddr mode='passthrough' "
                         "limit='" +
                             std::to_string(bits) + "'/> </cpu>  (libvirt 9.2+)"
                       : "<cpu> ... <maxphysaddr mode='emulate' bits='" + std::to_string(bits) +
                             "'/> </cpu>  (libvirt 8.7+)";
    case VmFormat::kProxmox:
      return host_bits ? "args: -global " + model +
                             "-x86_64-cpu.host-phys-bits-limit=" + std::to_string(bits)
                       : "cpu: " + model + ",phys-bits=" + std::to_string(bits);
  }
  return "";
}

std::string aw_text(const VmConfig& vm, unsigned bits) {
  std::string b = std::to_string(bits);
  switch (vm.format) {
    case VmFormat::kQemu:
      return "-device " + vm.viommu->model + ",aw-bits=" + b + ",...";
    case VmFormat::kLibvirt:
      return "<iommu model='" +
             std::string(vm.viommu->model == "intel-iommu" ? "intel" : "virtio") +
             "'><driver aw_bits='" + b + "'/></iommu>";
    case VmFormat::kProxmox:
      return "args: -global " + vm.viommu->model + ".aw-bits=" + b;
  }
  return "";
}

std::string machine_text(const VmConfig& vm, const std::string& name) {
  switch (vm.format) {
    case VmFormat::kQemu:
      return "-machine " + name;
    case VmFormat::kLibvirt:
      return "<os><type arch='x86_64' machine='" + name + "'>hvm</type></os>";
    case VmFormat::kProxmox:
      return "machine: " + name;
  }
  return "";
}

std::string cpu_model_text(const VmConfig& vm) {
  switch (vm.format) {
    case VmFormat::kQemu:
      return "-cpu host";
    case VmFormat::kLibvirt:
      return "<cpu mode='host-passthrough'/>";
    case VmFormat::kProxmox:
      return "cpu: host";
  }
  return "";
}

std::string gib(uint64_t bytes) {
  return std::to_string(bytes / kGiB) + "G";
}

std::string maxmem_text(const VmConfig& vm, uint64_t maxmem) {
  switch (vm.format) {
    case VmFormat::kQemu:
      return maxmem <= vm.ram_size
                 ? "-m " + gib(vm.ram_size) + "  (no maxmem: no hotplug region)"
                 : "-m " + gib(vm.ram_size) + ",slots=" + std::to_string(vm.slots) +
                       ",maxmem=" + gib(maxmem);
    case VmFormat::kLibvirt:
      return maxmem <= vm.ram_size
                 ? "remove <maxMemory>"
                 : "<maxMemory slots='" + std::to_string(vm.slots) + "' unit='GiB'>" +
                       std::to_string(maxmem / kGiB) + "</maxMemory>";
    case VmFormat::kProxmox:
      return "memory: current=" +
             std::to_string((vm.ram_size +
                             [&] {
                               uint64_t d = 0;
                               for (const VmDimm& x : vm.dimms) d += x.size;
                               return d;
                             }()) >>
                            20) +
             ",max=" + std::to_string(maxmem >> 20);
  }
  return "";
}

std::string ram_text(const VmConfig& vm, uint64_t ram) {
  switch (vm.format) {
    case VmFormat::kQemu:
      return "-m " + gib(ram);
    case VmFormat::kLibvirt:
      return "<memory unit='GiB'>" + std::to_string(ram / kGiB) + "</memory>";
    case VmFormat::kProxmox:
      return "memory: " + std::to_string(ram >> 20);
  }
  return "";
}

struct Candidate {
  VmConfig vm;
  VmChange change;
};

// The largest n in [lo, hi] for which the VM `make(n)` fails less than `now`, by bisection
// (fewer failures below some n, as with a smaller region or less RAM); nullopt when none.
template <class Make>
std::optional<uint64_t> largest_better(uint64_t lo, uint64_t hi, const Evaluation& now,
                                       const VmCheckHost& h, unsigned host_aw, Make make) {
  std::optional<uint64_t> best;
  while (lo <= hi && hi > 0) {
    uint64_t mid = lo + (hi - lo) / 2;
    Result<Evaluation> e = evaluate(make(mid), h, host_aw);
    if (e && e->score() < now.score()) {
      best = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return best;
}

// The candidates of one kind, best (smallest change) first.
std::vector<Candidate> candidates(VmChange::Kind kind, const VmConfig& vm, const Evaluation& now,
                                  const VmCheckHost& h, unsigned host_aw) {
  std::vector<Candidate> out;
  switch (kind) {
    case VmChange::Kind::kPhysBits: {
      bool host_bits = vm.cpu.host_phys_bits.value_or(vm.cpu.is_host_model());
      // QEMU refuses the layout (phys-bits too low): more bits, up to the host's.
      unsigned most = h.cpu.phys_bits.value_or(52);
      if (now.layout.qemu_refusal && !host_bits) {
        for (unsigned b = now.layout.phys_bits + 1; b <= most; ++b) {
          VmConfig c = vm;
          c.cpu.phys_bits = b;
          out.push_back({c,
                         {kind, b, cpu_text(vm, false, b),
                          std::to_string(b) + " bits hold everything QEMU places (RAM, the "
                                              "hotplug region, the 64-bit PCI hole)"}});
        }
        break;
      }
      // From the host IOMMU's own width down: with it, anything the guest places within its
      // address space is within the IOMMU's reach (docs/vm-check.md).
      unsigned start = std::min(now.layout.phys_bits - 1, std::max(host_aw, 36u));
      for (unsigned b = start; b >= 36; --b) {
        VmConfig c = vm;
        if (host_bits) {
          c.cpu.host_phys_bits_limit = b;
        } else {
          c.cpu.phys_bits = b;
        }
        out.push_back({c,
                       {kind, b, cpu_text(vm, host_bits, b),
                        "the vCPU's physical address bits place the firmware's 64-bit window; " +
                            std::to_string(b) + " bits keep it within the IOMMU's reach"}});
      }
      break;
    }
    case VmChange::Kind::kAwBits: {
      if (!vm.viommu || !now.viommu_problem) break;
      for (unsigned b : {48u, 39u}) {
        if (b > host_aw) continue;
        VmConfig c = vm;
        c.viommu->aw_bits = b;
        out.push_back({c,
                       {kind, b, aw_text(vm, b),
                        "the guest's IOVAs then stay within the host IOMMU's " +
                            std::to_string(host_aw) + " bits"}});
      }
      break;
    }
    case VmChange::Kind::kMachine: {
      if (vm.machine.at_least(7, 1)) break;
      VmConfig c = vm;
      c.machine.major = 0;
      c.machine.minor = 0;
      c.machine.name = vm.machine.family == MachineFamily::kQ35 ? "q35" : "pc";
      out.push_back({c,
                     {kind, 0, machine_text(vm, c.machine.name),
                      "machine types 7.1+ move RAM above the AMD HyperTransport range"}});
      break;
    }
    case VmChange::Kind::kCpuModel: {
      if (h.cpu.vendor != CpuVendor::kAmd || vm.cpu.vendor(h.cpu.vendor) == CpuVendor::kAmd) break;
      VmConfig c = vm;
      c.cpu.model = "host";
      out.push_back({c,
                     {kind, 0, cpu_model_text(vm),
                      "QEMU moves RAM above the HyperTransport range only for an AMD vCPU"}});
      break;
    }
    case VmChange::Kind::kMaxmem: {
      if (vm.maxmem <= vm.ram_size) break;
      uint64_t dimms = 0;
      for (const VmDimm& d : vm.dimms) dimms += d.size;
      // The largest hotplug region, in GiB, that passes (bisection; at least the DIMMs).
      uint64_t lo = (vm.ram_size + dimms + kGiB - 1) / kGiB;
      uint64_t hi = vm.maxmem / kGiB;
      std::optional<uint64_t> best = largest_better(lo, hi, now, h, host_aw, [&](uint64_t g) {
        VmConfig c = vm;
        c.maxmem = std::max(g * kGiB, vm.ram_size);
        return c;
      });
      if (best) {
        VmConfig c = vm;
        c.maxmem = std::max(*best * kGiB, vm.ram_size);
        out.push_back({c,
                       {kind, c.maxmem, maxmem_text(vm, c.maxmem),
                        "a smaller hotplug region ends within the IOMMU's reach"}});
      }
      break;
    }
    case VmChange::Kind::kRam: {
      std::optional<uint64_t> best =
          largest_better(1, vm.ram_size / kGiB, now, h, host_aw, [&](uint64_t g) {
            VmConfig c = vm;
            c.ram_size = g * kGiB;
            if (c.maxmem && c.maxmem < c.ram_size) c.maxmem = c.ram_size;
            return c;
          });
      if (best && *best * kGiB < vm.ram_size) {
        VmConfig c = vm;
        c.ram_size = *best * kGiB;
        out.push_back({c,
                       {kind, c.ram_size, ram_text(vm, c.ram_size),
                        "less RAM ends within the IOMMU's reach"}});
      }
      break;
    }
  }
  return out;
}

}  // namespace

unsigned host_aw_bits(const ContainerReport& container) {
  if (container.usable.empty()) return 0;
  uint64_t last = container.usable.back().range.last;
  return 64 - static_cast<unsigned>(std::countl_zero(last));
}

bool VmCheckReport::starts() const {
  if (layout.qemu_refusal || viommu_fatal) return false;
  for (const VmMappingVerdict& v : verdicts)
    if (!v.verdict.ok() && v.mapping.fatal) return false;
  return true;
}

bool VmCheckReport::clean() const {
  if (!starts() || viommu_problem) return false;
  for (const VmMappingVerdict& v : verdicts)
    if (!v.verdict.ok()) return false;
  return true;
}

Result<VmCheckReport> check_vm(const VmConfig& vm, const VmCheckHost& h) {
  if (!h.host) return make_error(EINVAL, "no host");
  VmCheckReport r;
  r.vm = vm;
  IOVAMAP_ASSIGN_OR_RETURN(
      r.container, describe_container(*h.host, h.group_ids, h.policy, ContainerRules::kType1));
  if (r.container.refusal) return *r.container.refusal;
  unsigned host_aw = host_aw_bits(r.container);
  IOVAMAP_ASSIGN_OR_RETURN(Evaluation now, evaluate(vm, h, host_aw));
  r.layout = now.layout;
  r.verdicts = now.verdicts;
  r.viommu_problem = now.viommu_problem;
  r.viommu_fatal = now.viommu_fatal;
  r.notes = vm.notes;
  if (now.score() == 0) return r;

  // Greedy: apply the first kind of change that lowers the failures, its smallest candidate
  // that does, until the VM passes or nothing helps.
  VmFix fix;
  VmConfig current = vm;
  Evaluation cur = now;
  for (int round = 0; round < 4 && cur.score() > 0; ++round) {
    bool applied = false;
    for (VmChange::Kind kind :
         {VmChange::Kind::kPhysBits, VmChange::Kind::kAwBits, VmChange::Kind::kMachine,
          VmChange::Kind::kCpuModel, VmChange::Kind::kMaxmem, VmChange::Kind::kRam}) {
      if (std::any_of(fix.changes.begin(), fix.changes.end(),
                      [&](const VmChange& c) { return c.kind == kind; }))
        continue;
      std::optional<std::pair<Candidate, Evaluation>> best;
      for (Candidate& c : candidates(kind, current, cur, h, host_aw)) {
        Result<Evaluation> e = evaluate(c.vm, h, host_aw);
        if (!e || e->score() >= cur.score()) continue;
        // The first that passes wins; else the first that helps most.
        if (!best || e->score() < best->second.score()) best.emplace(std::move(c), std::move(*e));
        if (best->second.score() == 0) break;
      }
      if (best) {
        current = best->first.vm;
        cur = std::move(best->second);
        fix.changes.push_back(best->first.change);
        applied = true;
        break;
      }
    }
    if (!applied) break;
  }
  if (!fix.changes.empty()) {
    fix.verified = cur.score() == 0;
    fix.fixed = current;
    if (vm.firmware == GuestFirmware::kOvmf && vm.format != VmFormat::kLibvirt)
      fix.caveats.push_back(
          "with OVMF from edk2-stable202505 on, X-PciMmio64Mb also works: it "
          "turns the dynamic 64-bit window off");
    r.fix = std::move(fix);
  }
  return r;
}

}  // namespace iovamap
