// libFuzzer target: the kernel command line as discovery and the drivers read it. Whatever the
// text, every word is a piece of it, every parameter found is a word of it, and the number and
// bool parsers agree with printing: a value parse_kernel_uint accepts prints back (decimal) to
// the same value.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "iovamap/kernel_cmdline.h"

using namespace iovamap;

namespace {
void require(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (std::string_view w : cmdline_words(text)) {
    require(!w.empty());
    require(w.find_first_of(" \t\n") == std::string_view::npos);
    require(w.data() >= text.data() && w.data() + w.size() <= text.data() + text.size());
  }
  for (const char* name : {"vfio_iommu_type1.dma_entry_limit", "iommufd.allow_unsafe_interrupts"})
    for (const CmdlineParam& p : cmdline_params(text, name)) {
      require(!p.word.empty());
      if (p.value) require(p.word.size() > p.value->size());
    }
  for (const char* name : {"intel_iommu", "amd_iommu"})
    for (std::string_view opt : cmdline_driver_options(text, name))
      require(opt.find(',') == std::string_view::npos);
  if (std::optional<uint32_t> v = parse_kernel_uint(text)) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u", *v);
    require(parse_kernel_uint(buf) == v);
  }
  (void)parse_kernel_bool(text);
  return 0;
}
