// libFuzzer target: the sysfs IOMMU register parsers (intel-iommu/cap and ecap, amd-iommu/cap
// and features in every kernel's format) on arbitrary bytes. They must return a value or an
// EINVAL naming the file, never crash; a value must survive printing it back the kernel's way.
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "iovamap/iommu_driver.h"

using namespace iovamap;

namespace {

void check_error(const Error& e, const std::string& file) {
  if (e.code != EINVAL || e.message.rfind(file + ": ", 0) != 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string file = "sys/class/iommu/x/regs";
  if (Result<uint64_t> v = parse_intel_register(text, file)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%" PRIx64 "\n", *v);
    Result<uint64_t> again = parse_intel_register(buf, file);
    if (!again || *again != *v) std::abort();
  } else {
    check_error(v.error(), file);
  }
  if (Result<uint32_t> c = parse_amd_cap(text, file); !c) check_error(c.error(), file);
  for (KernelVersion k : {KernelVersion{5, 10}, KernelVersion{6, 1}, KernelVersion{6, 12}}) {
    if (Result<AmdFeatures> f = parse_amd_features(text, file, k); !f) check_error(f.error(), file);
  }
  return 0;
}
