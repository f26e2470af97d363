// The iovamap command: runs the tool (tool.h) with stdout as an FdSink, which checks every
// write: output lost to a full disk or a closed descriptor is an error (exit 2), never a
// success.
#include <unistd.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "output_sink.h"
#include "pci_names.h"
#include "tool.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  std::ostringstream err;
  std::unique_ptr<iovamap::PciNames> names = iovamap::PciNames::open();
  iovamap::tool::FdSink out(STDOUT_FILENO);
  int status = iovamap::tool::run_tool(args, STDIN_FILENO, out, err, names.get());
  (void)iovamap::tool::FdSink(STDERR_FILENO).write(err.str());  // nowhere to report a failure
  return status;
}
