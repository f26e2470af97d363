// The iovamap command: runs the tool (tool.h) into a buffer, then writes it, checking that
// every byte reached stdout: output lost to a full disk or a closed pipe is an error (exit 2),
// never a success.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "pci_names.h"
#include "tool.h"

namespace {

// Writes all of `data` to `fd`; 0, or the errno of the write that failed.
int write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  std::ostringstream out, err;
  std::unique_ptr<iovamap::PciNames> names = iovamap::PciNames::open();
  int status = iovamap::tool::run_tool(args, STDIN_FILENO, out, err, names.get());
  write_all(STDERR_FILENO, err.str());
  if (int e = write_all(STDOUT_FILENO, out.str())) {
    std::string message =
        "iovamap: writing the output failed: " + std::string(std::strerror(e)) + "\n";
    write_all(STDERR_FILENO, message);
    return iovamap::tool::kExitError;
  }
  return status;
}
