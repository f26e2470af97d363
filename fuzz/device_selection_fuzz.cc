// libFuzzer target: lspci's -s and -d filter syntax and the command's group/device operands,
// on a small host. Every text parses or fails with a message that shows a bounded, escaped
// part of it; a filter that parses matches the devices consistently; a DMA limit applies to a
// device of the host or is refused, and refused ones change nothing.
#include <cstdlib>
#include <string>

#include "iovamap/device_selection.h"

using namespace iovamap;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

Host small_host() {
  Host h;
  h.source = "fuzz";
  Group& a = h.groups.emplace_back(Group{.id = 7, .type = "DMA"});
  a.devices.push_back(Device{.name = "0000:01:00.0", .vendor = 0x8086, .device_id = 0x10d3,
                             .class_code = 0x020000});
  Group& b = h.groups.emplace_back(Group{.id = 8, .type = "DMA"});
  b.devices.push_back(Device{.name = "0000:02:00.0", .vendor = 0x1b36, .device_id = 0x000e,
                             .class_code = 0x060400});
  b.devices.push_back(Device{.name = "0000:03:01.0", .vendor = 0x1af4, .device_id = 0x1000,
                             .class_code = 0x020000});
  b.devices.push_back(Device{.name = "fd000000.usb", .is_pci = false});
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  static const Host host = small_host();
  if (Result<SlotFilter> f = parse_slot_filter(text); !f) {
    require(!f.error().message.empty() && f.error().message.size() < 1024);
  } else {
    for (const Group& g : host.groups)
      for (const Device& d : g.devices) (void)f->matches(d);
  }
  if (Result<IdFilter> f = parse_id_filter(text); !f)
    require(!f.error().message.empty() && f.error().message.size() < 1024);
  Result<Selection> s = select_groups(host, {text}, {}, false);
  if (s) {
    require(!s->groups.empty());
    for (const SelectedGroup& g : s->groups) require(host.find_group(g.group->id) == g.group);
  } else {
    require(s.error().message.size() < 2048);
  }
  Host copy = host;
  Status st = apply_dma_limits(&copy, {text});
  if (!st) {
    for (size_t i = 0; i < copy.groups.size(); ++i)
      for (const Device& d : copy.groups[i].devices) require(!d.declared_dma_bits);
  }
  return 0;
}
