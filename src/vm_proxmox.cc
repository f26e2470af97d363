// A VM from a Proxmox VE configuration (include/iovamap/vm_proxmox.h).
#include "iovamap/vm_proxmox.h"

#include <charconv>
#include <vector>

#include "iovamap/vm_qemu_args.h"
#include "quoted.h"
#include "vm_text.h"

namespace iovamap {
using detail::quoted;
namespace {

using detail::trim_blanks;

// "a=1,b=2" (with an implied first key when the first item has no '=').
std::vector<std::pair<std::string, std::string>> property_list(std::string_view v,
                                                               std::string_view implied) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  bool first = true;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    std::string_view item =
        v.substr(start, comma == std::string_view::npos ? v.npos : comma - start);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(first ? std::string(implied) : std::string(item),
                       first ? std::string(item) : "1");
    } else {
      out.emplace_back(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
    }
    first = false;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::optional<std::string> get(const std::vector<std::pair<std::string, std::string>>& props,
                               std::string_view key) {
  for (const auto& [k, v] : props)
    if (k == key) return v;
  return std::nullopt;
}

Result<uint64_t> mebibytes(std::string_view v) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && n > (UINT64_MAX >> 20)))
    return make_error(ERANGE, quoted(v) + " MiB: above 2^64-1 bytes");
  if (ec != std::errc() || p != v.data() + v.size() || v.empty())
    return make_error(EINVAL, "expected a number of MiB, got " + quoted(v));
  return n << 20;
}

Result<unsigned> small_number(std::string_view v, unsigned lo, unsigned hi) {
  unsigned n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty() || n < lo || n > hi)
    return make_error(EINVAL, "expected " + std::to_string(lo) + " to " + std::to_string(hi) +
                                  ", got " + quoted(v));
  return n;
}

}  // namespace

Result<VmConfig> parse_proxmox_config(std::string_view text, const std::string& file) {
  VmConfig vm;
  vm.format = VmFormat::kProxmox;
  vm.file = file;
  // qemu-server's default CPU type (kvm64 before PVE 8, x86-64-v2-AES since): taken as
  // x86-64-v2-AES, which is qemu64 with more flags (PVE/QemuServer/CPUConfig.pm), so it
  // carries qemu64's AMD vendor string (VmCpu::vendor).
  vm.cpu.model = "x86-64-v2-AES";
  bool memory_hotplug = false;
  std::optional<uint64_t> memory;
  std::optional<uint64_t> memory_max;
  std::string args_text;
  size_t args_line = 0;

  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view raw = text.substr(pos, nl == std::string_view::npos ? text.npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    std::string_view line = trim_blanks(raw);
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '[') break;  // a snapshot or pending section: not the running VM
    auto fail = [&](const Error& e) {
      return e.with_context(file + ":" + std::to_string(line_no));
    };
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return fail(make_error(EINVAL, quoted(line) + ": not a 'key: value' line"));
    std::string key(trim_blanks(line.substr(0, colon)));
    std::string_view value = trim_blanks(line.substr(colon + 1));
    Status s;
    if (key == "machine") {
      auto props = property_list(value, "type");
      std::string type = get(props, "type").value_or("pc");
      if (type.empty()) type = "pc";
      Result<MachineType> m = parse_machine_type(type);
      if (!m) return fail(m.error());
      vm.machine = *m;
      vm.machine_line = line_no;
      if (auto v = get(props, "viommu")) {
        if (*v == "intel") {
          vm.viommu = VmViommu{.model = "intel-iommu", .line = line_no};
        } else if (*v == "virtio") {
          vm.viommu = VmViommu{.model = "virtio-iommu", .line = line_no};
        } else {
          return fail(make_error(EINVAL, "viommu=" + quoted(*v) + ": expected intel or virtio"));
        }
      }
    } else if (key == "memory") {
      auto props = property_list(value, "current");
      if (auto c = get(props, "current")) {
        Result<uint64_t> m = mebibytes(*c);
        if (!m) return fail(m.error());
        memory = *m;
        vm.ram_line = line_no;
      }
      if (auto c = get(props, "max")) {
        Result<uint64_t> m = mebibytes(*c);
        if (!m) return fail(m.error());
        memory_max = *m;
      }
    } else if (key == "hotplug") {
      for (const auto& [k, v] : property_list(value, ""))
        if (k == "memory" || v == "memory") memory_hotplug = true;
      if (value == "1") memory_hotplug = false;  // "1" means the default: network,disk,usb
    } else if (key == "cpu") {
      auto props = property_list(value, "cputype");
      vm.cpu.line = line_no;
      std::string type = get(props, "cputype").value_or("x86-64-v2-AES");
      if (type.rfind("custom-", 0) == 0) {
        vm.notes.push_back(file + ":" + std::to_string(line_no) + ": custom CPU model " +
                           quoted(type) + " (cpu-models.conf) is not read: taken as qemu64");
        type = "qemu64";
      }
      vm.cpu.model = type;
      if (auto pb = get(props, "phys-bits")) {
        if (*pb == "host") {
          vm.cpu.host_phys_bits = true;
        } else {
          Result<unsigned> n = small_number(*pb, 8, 64);
          if (!n) return fail(n.error().with_context("phys-bits"));
          vm.cpu.phys_bits = *n;
        }
      }
    } else if (key == "bios") {
      if (value == "ovmf") {
        vm.firmware = GuestFirmware::kOvmf;
      } else if (value != "seabios") {
        return fail(make_error(EINVAL, "bios " + quoted(value) + ": expected ovmf or seabios"));
      }
      vm.firmware_line = line_no;
    } else if (key.rfind("hostpci", 0) == 0) {
      auto props = property_list(value, "host");
      if (auto m = get(props, "mapping"))
        return fail(make_error(
            EINVAL, "mapping=" + quoted(*m) +
                        ": a cluster resource mapping (/etc/pve/mapping/pci.cfg) is not in the "
                        "VM file; write the host address instead (host=0000:01:00.0)"));
      std::string hosts = get(props, "host").value_or("");
      if (hosts.empty()) return fail(make_error(EINVAL, "no host PCI address"));
      size_t start = 0;
      while (start <= hosts.size()) {
        size_t semi = hosts.find(';', start);
        std::string one =
            hosts.substr(start, semi == std::string::npos ? std::string::npos : semi - start);
        if (!one.empty()) vm.host_devices.push_back({one, line_no});
        if (semi == std::string::npos) break;
        start = semi + 1;
      }
    } else if (key == "ivshmem") {
      auto props = property_list(value, "size");
      auto size = get(props, "size");
      if (!size) return fail(make_error(EINVAL, "ivshmem without size="));
      Result<uint64_t> bytes = mebibytes(*size);
      if (!bytes) return fail(bytes.error());
      vm.ram_bars.push_back({get(props, "name").value_or("ivshmem"), *bytes, line_no});
    } else if (key == "args") {
      args_text = std::string(value);
      args_line = line_no;
    }
  }

  vm.ram_size = memory.value_or(512 * kMiB);  // qemu-server's default memory
  if (memory_hotplug) {
    // qemu-server PVE/QemuServer/Memory.pm: 1 GiB static, the rest in DIMMs, slots=255.
    uint64_t total = vm.ram_size;
    vm.ram_size = std::min<uint64_t>(total, kGiB);
    vm.slots = 255;
    vm.maxmem = memory_max.value_or(4 * kTiB);
    if (total > vm.ram_size)
      vm.dimms.push_back({"dimms (Proxmox memory hotplug)", total - vm.ram_size, vm.ram_line});
    vm.notes.push_back(
        "memory hotplug: Proxmox starts the VM with 1 GiB and plugs the rest as DIMMs; the "
        "hotplug region is " +
        human_size(vm.maxmem) +
        (memory_max ? " (memory max=)"
                    : " (assumed: qemu-server's "
                      "default 4 TiB)"));
  }
  if (!args_text.empty()) {
    Result<std::vector<QemuArg>> args = split_qemu_command(args_text, file);
    if (!args) return args.error();
    for (QemuArg& a : *args) a.line = args_line;
    IOVAMAP_RETURN_IF_ERROR(apply_qemu_args(*args, file, &vm));
  }
  return vm;
}

}  // namespace iovamap
