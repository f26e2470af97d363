// libFuzzer target: map files for `iovamap check`. Every line either parses or the error names
// the file and a line that exists; parsed sizes never exceed 2^64.
#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>

#include "iovamap/map_file.h"

using namespace iovamap;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  Result<std::vector<PlannedMapping>> m = parse_map_file(text, "fuzz.map");
  if (!m) {
    if (m.error().message.rfind("fuzz.map:", 0) != 0) std::abort();
    return 0;
  }
  size_t previous = 0;
  for (const PlannedMapping& p : *m) {
    if (p.size > (u128{1} << 64) || p.line == 0 || p.line > lines || p.line <= previous)
      std::abort();
    previous = p.line;
  }
  return 0;
}
