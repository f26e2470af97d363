// A VM from a QEMU command line (include/iovamap/vm_qemu_args.h).
//
// Option names and whether they take a value follow qemu-options.hx of QEMU 7.2 (Debian 12)
// and later; option values are QemuOpts lists ("key=value,key=value", ",," for a comma,
// util/qemu-option.c) whose first bare word is the implied key (-m size, -machine type,
// -device driver, -object qom-type, -cpu model).
#include "iovamap/vm_qemu_args.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "iovamap/device_selection.h"
#include "quoted.h"

namespace iovamap {
using detail::quoted;
namespace {

// QEMU's options for qemu-system-x86_64: true when the option takes a value.
const std::map<std::string, bool, std::less<>>& qemu_options() {
  static const std::map<std::string, bool, std::less<>> kOptions = {
      // Take a value.
      {"M", true},
      {"machine", true},
      {"cpu", true},
      {"m", true},
      {"smp", true},
      {"accel", true},
      {"name", true},
      {"uuid", true},
      {"bios", true},
      {"drive", true},
      {"device", true},
      {"object", true},
      {"global", true},
      {"fw_cfg", true},
      {"chardev", true},
      {"netdev", true},
      {"nic", true},
      {"net", true},
      {"serial", true},
      {"monitor", true},
      {"qmp", true},
      {"qmp-pretty", true},
      {"mon", true},
      {"display", true},
      {"vga", true},
      {"boot", true},
      {"rtc", true},
      {"pidfile", true},
      {"runas", true},
      {"sandbox", true},
      {"msg", true},
      {"overcommit", true},
      {"mem-path", true},
      {"numa", true},
      {"blockdev", true},
      {"fsdev", true},
      {"virtfs", true},
      {"kernel", true},
      {"initrd", true},
      {"append", true},
      {"cdrom", true},
      {"hda", true},
      {"hdb", true},
      {"hdc", true},
      {"hdd", true},
      {"fda", true},
      {"fdb", true},
      {"L", true},
      {"k", true},
      {"audiodev", true},
      {"audio", true},
      {"spice", true},
      {"vnc", true},
      {"D", true},
      {"d", true},
      {"trace", true},
      {"incoming", true},
      {"smbios", true},
      {"iscsi", true},
      {"parallel", true},
      {"usbdevice", true},
      {"add-fd", true},
      {"chroot", true},
      {"gdb", true},
      {"icount", true},
      {"action", true},
      {"watchdog-action", true},
      {"tpmdev", true},
      {"set", true},
      {"readconfig", true},
      {"mtdblock", true},
      {"sd", true},
      {"pflash", true},
      {"dtb", true},
      {"option-rom", true},
      {"debugcon", true},
      {"semihosting-config", true},
      {"plugin", true},
      {"compat", true},
      {"run-with", true},
      {"async-teardown", false},
      {"dfilter", true},
      {"seed", true},
      {"loadvm", true},
      {"machine-help", false},
      {"xen-domid", true},
      {"acpitable", true},
      {"smbios-ep", true},
      {"rotate", true},
      {"g", true},
      {"device-help", false},
      {"singlestep", false},
      {"iothread", true},
      // Take none.
      {"enable-kvm", false},
      {"nographic", false},
      {"S", false},
      {"nodefaults", false},
      {"no-user-config", false},
      {"daemonize", false},
      {"no-hpet", false},
      {"no-reboot", false},
      {"no-shutdown", false},
      {"usb", false},
      {"mem-prealloc", false},
      {"no-acpi", false},
      {"full-screen", false},
      {"snapshot", false},
      {"s", false},
      {"no-fd-bootchk", false},
      {"enable-fips", false},
      {"win2k-hack", false},
      {"no-quit", false},
      {"alt-grab", false},
      {"ctrl-grab", false},
      {"sdl", false},
      {"curses", false},
      {"preconfig", false},
      {"only-migratable", false},
      {"version", false},
      {"h", false},
      {"help", false},
      {"nouserconfig", false},
  };
  return kOptions;
}

// A QemuOpts list: the implied key's value first when the first item has no '='.
struct Opts {
  std::vector<std::pair<std::string, std::string>> items;

  std::optional<std::string> get(std::string_view key) const {
    std::optional<std::string> out;
    for (const auto& [k, v] : items)
      if (k == key) out = v;  // the last one wins, as in QemuOpts
    return out;
  }
};

Opts split_opts(std::string_view value, std::string_view implied_key) {
  Opts o;
  std::string item;
  std::vector<std::string> raw;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == ',') {
      if (i + 1 < value.size() && value[i + 1] == ',') {
        item += ',';
        ++i;
        continue;
      }
      raw.push_back(std::move(item));
      item.clear();
      continue;
    }
    item += value[i];
  }
  raw.push_back(std::move(item));
  for (size_t i = 0; i < raw.size(); ++i) {
    const std::string& r = raw[i];
    size_t eq = r.find('=');
    if (eq == std::string::npos) {
      if (i == 0 && !implied_key.empty()) {
        o.items.emplace_back(std::string(implied_key), r);
      } else {
        o.items.emplace_back(r, "on");  // a bare flag
      }
    } else {
      o.items.emplace_back(r.substr(0, eq), r.substr(eq + 1));
    }
  }
  return o;
}

bool contains_ovmf(std::string_view path) {
  std::string l(path);
  for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return l.find("ovmf") != std::string::npos || l.find("edk2") != std::string::npos ||
         l.find("qemu_efi") != std::string::npos;
}

Result<bool> parse_on_off(std::string_view v) {
  if (v == "on" || v == "yes" || v == "true" || v == "y") return true;
  if (v == "off" || v == "no" || v == "false" || v == "n") return false;
  return make_error(EINVAL, "expected on or off, got " + quoted(v));
}

Result<unsigned> parse_bits(std::string_view key, std::string_view v, unsigned lo, unsigned hi) {
  unsigned n = 0;
  bool ok = !v.empty() && v.size() <= 3 &&
            std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (ok) {
    for (char c : v) n = n * 10 + static_cast<unsigned>(c - '0');
  }
  if (!ok || n < lo || n > hi)
    return make_error(EINVAL, std::string(key) + "=" + quoted(v) + ": expected " +
                                  std::to_string(lo) + " to " + std::to_string(hi));
  return n;
}

// "0000:01:00.0", "01:00.0", or a sysfsdev path ending in one: the address as written.
Result<std::string> host_address(const Opts& o) {
  if (auto h = o.get("host")) {
    if (h->empty()) return make_error(EINVAL, "vfio-pci host= is empty");
    return *h;
  }
  if (auto s = o.get("sysfsdev")) {
    std::string_view p = *s;
    while (!p.empty() && p.back() == '/') p.remove_suffix(1);
    size_t slash = p.rfind('/');
    std::string_view name = slash == std::string_view::npos ? p : p.substr(slash + 1);
    if (name.empty()) return make_error(EINVAL, "vfio-pci sysfsdev= names no device");
    return std::string(name);
  }
  return make_error(EINVAL, "vfio-pci without host= or sysfsdev=");
}

class QemuReader {
 public:
  QemuReader(const std::string& file, VmConfig* vm) : file_(file), vm_(vm) {}

  Status read(const std::vector<QemuArg>& args) {
    size_t i = 0;
    if (!args.empty() && !args[0].text.empty() && args[0].text[0] != '-') i = 1;  // program
    for (; i < args.size(); ++i) {
      const QemuArg& a = args[i];
      std::string_view name = a.text;
      if (name.size() < 2 || name[0] != '-')
        return fail(a, i, "not an option (QEMU takes a disk image only as -drive or -hda)");
      name.remove_prefix(name[1] == '-' ? 2 : 1);  // QEMU takes --opt as -opt
      auto it = qemu_options().find(name);
      if (it == qemu_options().end()) return fail(a, i, "not a QEMU option");
      std::string value;
      if (it->second) {
        if (i + 1 >= args.size()) return fail(a, i, "needs a value");
        value = args[i + 1].text;
      }
      Status s = option(std::string(name), value, a);
      if (!s) return fail(a, i, s.error().message, s.error().code);
      if (it->second) ++i;
    }
    return finish();
  }

 private:
  Status fail(const QemuArg& a, size_t index, const std::string& why, int code = EINVAL) const {
    return make_error(code, file_ + ":" + std::to_string(a.line) + ": argument " +
                                std::to_string(index) + " " + quoted(a.text) + ": " + why);
  }

  Status option(const std::string& name, const std::string& value, const QemuArg& a) {
    size_t line = a.line;
    if (name == "M" || name == "machine") {
      Opts o = split_opts(value, "type");
      if (auto t = o.get("type")) {
        IOVAMAP_ASSIGN_OR_RETURN(vm_->machine, parse_machine_type(*t));
        vm_->machine_line = line;
      }
      if (auto m = o.get("max-ram-below-4g")) {
        IOVAMAP_ASSIGN_OR_RETURN(uint64_t v, parse_qemu_size(*m, 'B'));
        vm_->max_ram_below_4g = v;
      }
      if (auto p = o.get("pflash0")) {
        (void)p;
        set_firmware(GuestFirmware::kOvmf, line);
      }
      return Status();
    }
    if (name == "m") {
      Opts o = split_opts(value, "size");
      if (auto s = o.get("size")) {
        IOVAMAP_ASSIGN_OR_RETURN(vm_->ram_size, parse_qemu_size(*s, 'M'));
        vm_->ram_line = line;
      }
      if (auto s = o.get("maxmem")) {
        IOVAMAP_ASSIGN_OR_RETURN(vm_->maxmem, parse_qemu_size(*s, 'M'));
      }
      if (auto s = o.get("slots")) {
        IOVAMAP_ASSIGN_OR_RETURN(unsigned n, parse_bits("slots", *s, 0, 512));
        vm_->slots = n;
      }
      return Status();
    }
    if (name == "cpu") {
      Opts o = split_opts(value, "model");
      vm_->cpu.line = line;
      if (auto m = o.get("model")) vm_->cpu.model = *m;
      if (auto p = o.get("phys-bits")) {
        if (*p == "host") {
          vm_->cpu.host_phys_bits = true;
        } else {
          IOVAMAP_ASSIGN_OR_RETURN(unsigned n, parse_bits("phys-bits", *p, 32, 64));
          vm_->cpu.phys_bits = n;
        }
      }
      if (auto h = o.get("host-phys-bits")) {
        IOVAMAP_ASSIGN_OR_RETURN(bool b, parse_on_off(*h));
        vm_->cpu.host_phys_bits = b;
      }
      if (auto l = o.get("host-phys-bits-limit")) {
        IOVAMAP_ASSIGN_OR_RETURN(unsigned n, parse_bits("host-phys-bits-limit", *l, 0, 64));
        vm_->cpu.host_phys_bits_limit = n;
      }
      return Status();
    }
    if (name == "bios") {
      if (contains_ovmf(value)) set_firmware(GuestFirmware::kOvmf, line);
      return Status();
    }
    if (name == "drive") {
      Opts o = split_opts(value, "");
      if (o.get("if") == "pflash") set_firmware(GuestFirmware::kOvmf, line);
      return Status();
    }
    if (name == "object") return object(split_opts(value, "qom-type"), line);
    if (name == "device") return device(split_opts(value, "driver"), line);
    if (name == "global") return global(value);
    if (name == "fw_cfg") {
      Opts o = split_opts(value, "name");
      if (o.get("name") == "opt/ovmf/X-PciMmio64Mb") {
        auto s = o.get("string");
        if (!s) return make_error(EINVAL, "opt/ovmf/X-PciMmio64Mb needs string=MiB");
        IOVAMAP_ASSIGN_OR_RETURN(uint64_t mb, parse_qemu_size(*s, 'B'));
        vm_->ovmf_mmio64_mb = mb;
      }
      return Status();
    }
    return Status();  // an option that moves no guest-physical address
  }

  void set_firmware(GuestFirmware f, size_t line) {
    vm_->firmware = f;
    vm_->firmware_line = line;
  }

  Status object(const Opts& o, size_t line) {
    std::string type = o.get("qom-type").value_or("");
    if (type.rfind("memory-backend-", 0) != 0) return Status();
    auto id = o.get("id");
    auto size = o.get("size");
    if (!id) return make_error(EINVAL, type + " without id=");
    if (!size) return make_error(EINVAL, type + " " + quoted(*id) + " without size=");
    IOVAMAP_ASSIGN_OR_RETURN(uint64_t bytes, parse_qemu_size(*size, 'B'));
    backends_[*id] = {bytes, line};
    return Status();
  }

  Status device(const Opts& o, size_t line) {
    std::string driver = o.get("driver").value_or("");
    if (driver == "vfio-pci" || driver == "vfio-pci-nohotplug") {
      IOVAMAP_ASSIGN_OR_RETURN(std::string address, host_address(o));
      vm_->host_devices.push_back({address, line});
      return Status();
    }
    if (driver == "ivshmem-plain" || driver == "pc-dimm" || driver == "nvdimm" ||
        driver == "virtio-mem-pci") {
      auto memdev = o.get("memdev");
      if (!memdev) return make_error(EINVAL, driver + " without memdev=");
      uses_.push_back({driver, *memdev, o.get("id").value_or(*memdev), line});
      if (auto addr = o.get("addr"); addr && (driver == "pc-dimm" || driver == "nvdimm")) {
        IOVAMAP_ASSIGN_OR_RETURN(uint64_t a, parse_qemu_size(*addr, 'B'));
        uses_.back().addr = a;
      }
      if (driver == "virtio-mem-pci") {
        auto req = o.get("requested-size");
        uint64_t r = 0;
        if (req) {
          IOVAMAP_ASSIGN_OR_RETURN(r, parse_qemu_size(*req, 'B'));
        }
        uses_.back().requested = r;
      }
      return Status();
    }
    if (driver == "ivshmem" || driver == "ivshmem-doorbell") {
      // The legacy ivshmem took size= (MiB) itself; ivshmem-doorbell's size comes from the
      // server at run time.
      if (auto s = o.get("size")) {
        IOVAMAP_ASSIGN_OR_RETURN(uint64_t bytes, parse_qemu_size(*s, 'M'));
        vm_->ram_bars.push_back({o.get("id").value_or(driver), bytes, line});
      } else {
        vm_->notes.push_back(driver + " at line " + std::to_string(line) +
                             ": its shared memory size comes from the server at run time; "
                             "not checked");
      }
      return Status();
    }
    if (driver == "intel-iommu" || driver == "virtio-iommu-pci" || driver == "amd-iommu" ||
        driver == "virtio-iommu") {
      VmViommu v{.model = driver == "virtio-iommu-pci" ? "virtio-iommu" : driver, .line = line};
      if (auto aw = o.get("aw-bits")) {
        IOVAMAP_ASSIGN_OR_RETURN(unsigned n, parse_bits("aw-bits", *aw, 32, 64));
        v.aw_bits = n;
      }
      vm_->viommu = v;
      return Status();
    }
    return Status();
  }

  Status global(std::string_view value) {
    // -global DRIVER.PROP=VALUE, or driver=D,property=P,value=V
    std::string driver;
    std::string prop;
    std::string val;
    Opts o = split_opts(value, "");
    if (o.get("driver") && o.get("property") && o.get("value")) {
      driver = *o.get("driver");
      prop = *o.get("property");
      val = *o.get("value");
    } else {
      size_t dot = value.find('.');
      size_t eq = value.find('=');
      if (dot == std::string_view::npos || eq == std::string_view::npos || eq < dot)
        return make_error(EINVAL, "expected DRIVER.PROPERTY=VALUE");
      driver = std::string(value.substr(0, dot));
      prop = std::string(value.substr(dot + 1, eq - dot - 1));
      val = std::string(value.substr(eq + 1));
    }
    if ((driver == "q35-pcihost" || driver == "i440FX-pcihost") && prop == "pci-hole64-size") {
      IOVAMAP_ASSIGN_OR_RETURN(uint64_t v, parse_qemu_size(val, 'B'));
      vm_->pci_hole64_size = v;
    }
    return Status();
  }

  // Memory backends are referred to by id from devices written before or after them.
  Status finish() {
    for (const Use& u : uses_) {
      auto it = backends_.find(u.memdev);
      if (it == backends_.end())
        return make_error(EINVAL, file_ + ":" + std::to_string(u.line) + ": " + u.driver +
                                      " memdev=" + quoted(u.memdev) +
                                      ": no -object memory-backend-* with that id");
      uint64_t size = it->second.first;
      if (u.driver == "ivshmem-plain") {
        vm_->ram_bars.push_back({u.id, size, u.line});
      } else if (u.driver == "virtio-mem-pci") {
        // Only the plugged part is mapped; the region as a whole is the device's.
        vm_->dimms.push_back({u.memdev, u.requested, u.line});
      } else {
        // QEMU names the memory region (and so the mapping, in its messages) by the backend.
        vm_->dimms.push_back({u.memdev, size, u.line, u.addr});
      }
    }
    return Status();
  }

  struct Use {
    std::string driver;
    std::string memdev;
    std::string id;
    size_t line = 0;
    uint64_t requested = 0;
    std::optional<uint64_t> addr;  // pc-dimm/nvdimm addr=
  };
  const std::string& file_;
  VmConfig* vm_;
  std::map<std::string, std::pair<uint64_t, size_t>> backends_;
  std::vector<Use> uses_;
};

}  // namespace

Result<std::vector<QemuArg>> split_qemu_command(std::string_view text, const std::string& file) {
  std::vector<QemuArg> out;
  size_t line = 1;
  size_t i = 0;
  auto err = [&](const std::string& why) {
    return make_error(EINVAL, file + ":" + std::to_string(line) + ": " + why);
  };
  while (i < text.size()) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
      continue;
    }
    if (c == '\\' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++line;
      i += 2;
      continue;
    }
    if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    QemuArg word{.line = line};
    bool any = false;
    while (i < text.size()) {
      c = text[i];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') break;
      any = true;
      if (c == '\\') {
        if (i + 1 >= text.size()) return err("a backslash at the end of the file");
        if (text[i + 1] == '\n') {
          ++line;
        } else {
          word.text += text[i + 1];
        }
        i += 2;
      } else if (c == '\'') {
        size_t end = text.find('\'', i + 1);
        if (end == std::string_view::npos) return err("a ' quote that does not end");
        std::string_view q = text.substr(i + 1, end - i - 1);
        line += static_cast<size_t>(std::count(q.begin(), q.end(), '\n'));
        word.text += q;
        i = end + 1;
      } else if (c == '"') {
        ++i;
        bool closed = false;
        while (i < text.size()) {
          char d = text[i];
          if (d == '"') {
            closed = true;
            ++i;
            break;
          }
          if (d == '$' || d == '`')
            return err(
                "a shell expansion ('$' or '`') inside \"...\": iovamap runs no shell; "
                "write the value itself");
          if (d == '\\' && i + 1 < text.size() &&
              std::string_view("\"\\$`\n").find(text[i + 1]) != std::string_view::npos) {
            if (text[i + 1] == '\n') {
              ++line;
            } else {
              word.text += text[i + 1];
            }
            i += 2;
            continue;
          }
          if (d == '\n') ++line;
          word.text += d;
          ++i;
        }
        if (!closed) return err("a \" quote that does not end");
      } else if (c == '$' || c == '`') {
        return err(
            "a shell expansion ('$' or '`'): iovamap runs no shell; write the value "
            "itself");
      } else if (c == ';' || c == '|' || c == '&' || c == '<' || c == '>') {
        return err("shell syntax " + quoted(std::string_view(&text[i], 1)) +
                   ": the file should hold one QEMU command line");
      } else {
        word.text += c;
        ++i;
      }
    }
    if (any) out.push_back(std::move(word));
  }
  return out;
}

Status apply_qemu_args(const std::vector<QemuArg>& args, const std::string& file, VmConfig* vm) {
  QemuReader reader(file, vm);
  return reader.read(args);
}

Result<VmConfig> parse_qemu_args(const std::vector<QemuArg>& args, const std::string& file) {
  VmConfig vm;
  vm.format = VmFormat::kQemu;
  vm.file = file;
  IOVAMAP_RETURN_IF_ERROR(apply_qemu_args(args, file, &vm));
  return vm;
}

Result<VmConfig> parse_qemu_command_file(std::string_view text, const std::string& file) {
  IOVAMAP_ASSIGN_OR_RETURN(std::vector<QemuArg> args, split_qemu_command(text, file));
  if (args.empty()) return make_error(EINVAL, file + ": no command line in it");
  return parse_qemu_args(args, file);
}

}  // namespace iovamap
