// The VM's settings: machine types, CPU models, QEMU sizes (include/iovamap/vm_config.h).
#include "iovamap/vm_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "quoted.h"

namespace iovamap {
using detail::quoted;
namespace {

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "7.2", "8.1+pve0", "rhel9.4.0": major and minor, or nullopt.
std::optional<std::pair<int, int>> parse_version(std::string_view v) {
  if (starts_with(v, "rhel")) v.remove_prefix(4);
  int major = 0;
  int minor = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), major);
  if (ec != std::errc() || p == v.data() + v.size() || *p != '.') return std::nullopt;
  const char* end = v.data() + v.size();
  auto [q, ec2] = std::from_chars(p + 1, end, minor);
  if (ec2 != std::errc() || q == p + 1) return std::nullopt;
  if (q != end && *q != '+' && *q != '.') return std::nullopt;
  if (major > 1000 || minor > 1000) return std::nullopt;
  return std::pair{major, minor};
}

}  // namespace

std::string_view vm_format_name(VmFormat format) {
  switch (format) {
    case VmFormat::kQemu:
      return "QEMU command line";
    case VmFormat::kLibvirt:
      return "libvirt domain XML";
    case VmFormat::kProxmox:
      return "Proxmox VM configuration";
  }
  return "?";
}

bool MachineType::at_least(int want_major, int want_minor) const {
  if (major == 0) return true;
  return major > want_major || (major == want_major && minor >= want_minor);
}

Result<MachineType> parse_machine_type(std::string_view name) {
  MachineType m;
  m.name = std::string(name);
  std::string_view rest;
  if (name == "q35") {
    m.family = MachineFamily::kQ35;
    return m;
  }
  if (name == "pc") return m;
  if (starts_with(name, "pc-q35-")) {
    m.family = MachineFamily::kQ35;
    rest = name.substr(7);
  } else if (starts_with(name, "pc-i440fx-")) {
    rest = name.substr(10);
  } else if (starts_with(name, "pc-") && name.size() > 3 &&
             std::isdigit(static_cast<unsigned char>(name[3]))) {
    rest = name.substr(3);  // pc-1.7 and older i440fx machines
  } else {
    return make_error(EINVAL, "machine " + quoted(name) +
                                  ": not a q35 or i440fx (pc) machine; the VM check models "
                                  "x86 PC machines only");
  }
  auto v = parse_version(rest);
  if (!v) return make_error(EINVAL, "machine " + quoted(name) + ": no version in it");
  m.major = v->first;
  m.minor = v->second;
  return m;
}

std::string_view cpu_vendor_name(CpuVendor vendor) {
  switch (vendor) {
    case CpuVendor::kIntel:
      return "Intel";
    case CpuVendor::kAmd:
      return "AMD";
    case CpuVendor::kUnknown:
      return "unknown";
  }
  return "?";
}

bool VmCpu::is_host_model() const {
  return model == "host" || model == "max";
}

CpuVendor VmCpu::vendor(CpuVendor host_vendor) const {
  // libvirt's host-model becomes a named model of the host's vendor.
  if (is_host_model() || model == "host-model") return host_vendor;
  // target/i386/cpu.c builtin_x86_defs: qemu64, phenom, athlon, Opteron_G* and EPYC* carry
  // the AMD vendor string; the others (kvm64, qemu32, the Intel models) Intel's.
  std::string m = lower(model);
  // Proxmox's x86-64-v2/v3/v4(-AES) are qemu64 with more flags (qemu-server CPUConfig.pm).
  for (std::string_view amd : {"qemu64", "phenom", "athlon", "opteron", "epyc", "x86-64-v"})
    if (starts_with(m, amd)) return CpuVendor::kAmd;
  return CpuVendor::kIntel;
}

bool VmCpu::has_1g_pages() const {
  if (is_host_model() || model == "host-model") return true;
  std::string m = lower(model);
  for (std::string_view big : {"epyc", "skylake-server", "cascadelake", "icelake-server",
                               "cooperlake", "sapphirerapids", "granite", "sierra", "opteron_g5"})
    if (starts_with(m, big)) return true;
  return false;
}

std::string_view firmware_name(GuestFirmware firmware) {
  return firmware == GuestFirmware::kOvmf ? "OVMF" : "SeaBIOS";
}

Result<uint64_t> parse_qemu_size(std::string_view text, char default_unit) {
  // util/cutils.c do_strtosz: a number, maybe with a fraction, then one suffix letter.
  std::string_view t = text;
  if (t.empty()) return make_error(EINVAL, "empty size");
  auto bad = [&](const std::string& why) {
    return make_error(EINVAL, "size " + quoted(text) + ": " + why);
  };
  uint64_t whole = 0;
  size_t i = 0;
  bool hex = t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X');
  if (hex) {
    auto [p, ec] = std::from_chars(t.data() + 2, t.data() + t.size(), whole, 16);
    if (ec == std::errc::result_out_of_range)
      return make_error(ERANGE, "size " + quoted(text) + ": above 2^64-1");
    if (ec != std::errc() || p == t.data() + 2) return bad("not a number");
    i = static_cast<size_t>(p - t.data());
  } else {
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), whole, 10);
    if (ec == std::errc::result_out_of_range)
      return make_error(ERANGE, "size " + quoted(text) + ": above 2^64-1");
    if (ec != std::errc() || p == t.data()) return bad("not a number");
    i = static_cast<size_t>(p - t.data());
  }
  // A fraction, in decimal digits (at most 18 kept: enough for any unit up to E).
  uint64_t frac = 0;
  uint64_t frac_div = 1;
  if (i < t.size() && t[i] == '.') {
    if (hex) return bad("a hex size takes no fraction");
    ++i;
    size_t digits = 0;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) {
      if (digits < 18) {
        frac = frac * 10 + static_cast<uint64_t>(t[i] - '0');
        frac_div *= 10;
      }
      ++digits;
      ++i;
    }
    if (digits == 0) return bad("nothing after the '.'");
  }
  char unit = default_unit;
  if (i < t.size()) {
    unit = static_cast<char>(std::toupper(static_cast<unsigned char>(t[i])));
    ++i;
    if (i != t.size()) return bad("unexpected " + quoted(t.substr(i)) + " after the unit");
  }
  int shift = 0;
  switch (unit) {
    case 'B':
      shift = 0;
      break;
    case 'K':
      shift = 10;
      break;
    case 'M':
      shift = 20;
      break;
    case 'G':
      shift = 30;
      break;
    case 'T':
      shift = 40;
      break;
    case 'P':
      shift = 50;
      break;
    case 'E':
      shift = 60;
      break;
    default:
      return bad("unknown unit " + quoted(std::string_view(&t[i - 1], 1)));
  }
  if (shift == 0 && frac != 0) return bad("a fraction of a byte");
  if (shift > 0 && (whole >> (64 - shift)) != 0)
    return make_error(ERANGE, "size " + quoted(text) + ": above 2^64-1");
  u128 value = static_cast<u128>(whole) << shift;
  value += (static_cast<u128>(frac) << shift) / frac_div;
  if (value > UINT64_MAX) return make_error(ERANGE, "size " + quoted(text) + ": above 2^64-1");
  return static_cast<uint64_t>(value);
}

}  // namespace iovamap
