// libFuzzer target: the sysfs file parsers discovery uses, and discovery itself on a small
// fake tree whose files hold the input. Every parser must return a value or an error naming
// the file, never crash; parsed values must survive printing them back the kernel's way, and
// link resolution must never leave the root.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "iovamap/discovery.h"
#include "iovamap/region.h"
#include "iovamap/sysfs_reader.h"

using namespace iovamap;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

void require_names_file(const Error& e, const std::string& file) {
  require(e.message.find(file) != std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string file = "sys/kernel/iommu_groups/1/reserved_regions";

  // reserved_regions: what parses prints back to text that parses to the same regions.
  if (auto regions = parse_sysfs_regions(text, file)) {
    auto again = parse_sysfs_regions(to_sysfs(*regions), file);
    require(again.ok() && again->size() == regions->size());
    for (size_t i = 0; i < regions->size(); ++i) require((*again)[i].same_as((*regions)[i]));
  } else {
    require_names_file(regions.error(), file);
  }

  // Numbers: hex with 0x, decimal.
  if (auto v = parse_sysfs_number(text, "vendor")) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%" PRIu64 "\n", *v);
    auto again = parse_sysfs_number(buf, "vendor");
    require(again.ok() && *again == *v);
  } else {
    require_names_file(v.error(), "vendor");
  }

  // Link texts: the result is root-relative and clean.
  std::string resolved = resolve_link_text("sys/bus/pci/devices/x", text);
  require(resolved.empty() || resolved.front() != '/');
  require(resolved.find("/../") == std::string::npos && resolved.rfind("../", 0) != 0 &&
          resolved != ".." && resolved.find("//") == std::string::npos);

  // Discovery on a tree whose every file holds the input: errors or a host, never a crash.
  FakeSysfs fake;
  std::string content(text);
  fake.add_file("proc/sys/kernel/osrelease", content);
  fake.add_file("proc/cmdline", content);
  fake.add_link("sys/class/iommu/dmar0", content);
  fake.add_file("sys/devices/virtual/iommu/dmar0/intel-iommu/cap", content);
  fake.add_file("sys/kernel/iommu_groups/1/type", content);
  fake.add_file("sys/kernel/iommu_groups/1/reserved_regions", content);
  fake.add_link("sys/kernel/iommu_groups/1/devices/0000:00:01.0", content);
  fake.add_file("sys/devices/pci0000:00/0000:00:01.0/class", content);
  fake.add_file("sys/devices/pci0000:00/0000:00:01.0/dma_mask_bits", content);
  fake.add_file("0000:00:01.0/vendor", content);
  (void)discover(fake, "fuzz");
  return 0;
}
