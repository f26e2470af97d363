// libFuzzer target: the VM readers of vm-check. The same bytes go to the QEMU command-file
// reader, the libvirt domain XML reader (libxml2) and the Proxmox configuration reader. Each
// must return a VM or an error naming its file, never crash or throw; a VM one returns must be
// laid out (vm_layout) without crashing, its mappings well-formed closed ranges.
#include <cstdlib>
#include <string>
#include <string_view>

#include "iovamap/vm_config.h"
#include "iovamap/vm_host.h"
#include "iovamap/vm_layout.h"
#include "iovamap/vm_libvirt.h"
#include "iovamap/vm_proxmox.h"
#include "iovamap/vm_qemu_args.h"

using namespace iovamap;

namespace {

void check(const Result<VmConfig>& vm, std::string_view file) {
  if (!vm) {
    if (vm.error().message.rfind(std::string(file) + ":", 0) != 0) std::abort();
    return;
  }
  // The host CPU as a 46-bit Intel and a 48-bit AMD: -cpu host needs one of them.
  for (VmHostCpu cpu :
       {VmHostCpu{46, CpuVendor::kIntel, "fuzz"}, VmHostCpu{48, CpuVendor::kAmd, "fuzz"}}) {
    std::vector<VmBar> bars = {{"0000:01:00.0", 0, uint64_t{16} << 30, true, true},
                               {"0000:01:00.0", 2, 1 << 20, false, false}};
    Result<VmLayout> layout = vm_layout(*vm, cpu, bars);
    if (!layout) continue;
    for (const VmMapping& m : layout->mappings)
      if (m.range.first > m.range.last) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check(parse_qemu_command_file(text, "fuzz.sh"), "fuzz.sh");
  check(parse_libvirt_domain(text, "fuzz.xml"), "fuzz.xml");
  check(parse_proxmox_config(text, "fuzz.conf"), "fuzz.conf");
  return 0;
}
