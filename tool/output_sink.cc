// Where the tool's output goes (output_sink.h).
#include "output_sink.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace iovamap::tool {

Status FdSink::write(std::string_view text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      return make_system_error(e, std::string("writing the output failed: ") + std::strerror(e));
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace iovamap::tool
