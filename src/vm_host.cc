// The host CPU and the assigned devices' BARs (include/iovamap/vm_host.h).
#include "iovamap/vm_host.h"

#include <charconv>

#include "quoted.h"
#include "vm_text.h"

namespace iovamap {
using detail::quoted;
namespace {

using detail::trim_blanks;

// include/linux/ioport.h
constexpr uint64_t kIoresourceMem = 0x00000200;
constexpr uint64_t kIoresourcePrefetch = 0x00002000;
constexpr uint64_t kIoresourceMem64 = 0x00100000;

Result<uint64_t> hex(std::string_view t) {
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) t.remove_prefix(2);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v, 16);
  if (ec != std::errc() || p != t.data() + t.size() || t.empty())
    return make_error(EINVAL, "not a hex number: " + quoted(t));
  return v;
}

}  // namespace

Result<VmHostCpu> parse_cpuinfo(std::string_view text, const std::string& name) {
  VmHostCpu cpu;
  cpu.source = name;
  size_t line_no = 0;
  size_t pos = 0;
  bool seen_processor = false;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? text.npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = trim_blanks(line.substr(0, colon));
    std::string_view value = trim_blanks(line.substr(colon + 1));
    if (key == "processor") {
      if (seen_processor) break;  // the first processor is enough
      seen_processor = true;
    } else if (key == "vendor_id") {
      cpu.vendor = value == "GenuineIntel"   ? CpuVendor::kIntel
                   : value == "AuthenticAMD" ? CpuVendor::kAmd
                                             : CpuVendor::kUnknown;
    } else if (key == "address sizes") {
      // arch/x86/kernel/cpu/proc.c show_cpuinfo: "%u bits physical, %u bits virtual"
      unsigned bits = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), bits);
      if (ec != std::errc() ||
          trim_blanks(value.substr(static_cast<size_t>(p - value.data()))).substr(0, 13) !=
              "bits physical" ||
          bits < 32 || bits > 64)
        return make_error(EINVAL, name + ":" + std::to_string(line_no) +
                                      ": address sizes: expected 'N bits physical, ...', got " +
                                      quoted(value));
      cpu.phys_bits = bits;
    }
  }
  return cpu;
}

Result<VmHostCpu> read_host_cpu(SysfsReader& reader) {
  IOVAMAP_ASSIGN_OR_RETURN(std::string text, reader.read_file("proc/cpuinfo"));
  return parse_cpuinfo(text, reader.display("proc/cpuinfo"));
}

Result<std::vector<VmBar>> parse_pci_resource(std::string_view text, const std::string& device,
                                              const std::string& name) {
  std::vector<VmBar> bars;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size() && line_no < 6) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? text.npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    // drivers/pci/pci-sysfs.c resource_show: "0x%016llx 0x%016llx 0x%016llx"
    std::string_view fields[3];
    std::string_view rest = trim_blanks(line);
    for (std::string_view& f : fields) {
      size_t sp = rest.find(' ');
      f = rest.substr(0, sp);
      rest = sp == std::string_view::npos ? std::string_view() : trim_blanks(rest.substr(sp + 1));
    }
    auto where = [&] { return name + ":" + std::to_string(line_no); };
    Result<uint64_t> start = hex(fields[0]);
    Result<uint64_t> end = hex(fields[1]);
    Result<uint64_t> flags = hex(fields[2]);
    if (!start) return start.error().with_context(where());
    if (!end) return end.error().with_context(where());
    if (!flags) return flags.error().with_context(where());
    if (!(*flags & kIoresourceMem) || *end <= *start) continue;
    uint64_t size = *end - *start + 1;
    if (size == 0 || (size & (size - 1)) != 0)
      return make_error(
          EINVAL, where() + ": a BAR of " + std::to_string(size) + " bytes: not a power of two");
    bars.push_back({device, static_cast<unsigned>(line_no - 1), size,
                    (*flags & kIoresourceMem64) != 0, (*flags & kIoresourcePrefetch) != 0});
  }
  return bars;
}

Result<std::vector<VmBar>> read_device_bars(SysfsReader& reader, const std::string& device) {
  std::string path = "sys/bus/pci/devices/" + device + "/resource";
  IOVAMAP_ASSIGN_OR_RETURN(std::string text, reader.read_file(path));
  return parse_pci_resource(text, device, reader.display(path));
}

}  // namespace iovamap
