// libFuzzer target: topology files (TOML). parse_topology must return a host or an error that
// names the file, never crash or throw; a host it returns must be answerable by the model for
// every group under every policy (errors allowed, crashes not).
#include <cstdlib>
#include <string>
#include <string_view>

#include "iovamap/policy.h"
#include "iovamap/topology.h"

using namespace iovamap;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<Host> host = parse_topology(text, "fuzz.toml");
  if (!host) {
    if (host.error().message.rfind("fuzz.toml:", 0) != 0) std::abort();
    return 0;
  }
  for (const Group& g : host->groups)
    for (Policy p : {Policy::kKernel, Policy::kRfc, Policy::kRfcFixed, Policy::kEffective})
      (void)model_group(*host, g, p);
  return 0;
}
