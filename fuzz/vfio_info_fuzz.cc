// libFuzzer target: parse_iova_ranges on arbitrary bytes (a GET_INFO reply from a kernel, a
// file, a user). It must return ranges or ENOENT/EINVAL, never crash or loop; ranges it returns
// must come back unchanged through a modelled reply.
#include <cerrno>
#include <cstdlib>
#include <vector>

#include "iovamap/vfio_info.h"

using namespace iovamap;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  Result<std::vector<Range>> r = parse_iova_ranges(bytes);
  if (!r) {
    if (r.error().code != EINVAL && r.error().code != ENOENT) std::abort();
    return 0;
  }
  for (const Range& range : *r)
    if (range.first > range.last) std::abort();
  if (r->empty() || r->size() > 4096) return 0;
  Type1InfoState state{0x1000, 1, *r};
  Result<GetInfoReply> reply = type1_get_info(state, 0xffffffff, GetInfoOptions{});
  if (!reply) std::abort();
  Result<std::vector<Range>> again = parse_iova_ranges(reply->bytes);
  if (!again || *again != *r) std::abort();
  return 0;
}
