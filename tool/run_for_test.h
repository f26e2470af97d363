// Test helper: runs the iovamap tool in-process, as a shell would, and keeps what it said.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "tool.h"

namespace iovamap {

struct CliRun {
  int status;
  std::string out, err;
};

// Runs the tool with `input` on its stdin (a pipe, as a shell would give it).
inline CliRun run(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), "iovamap");
  int fds[2];
  if (::pipe(fds) != 0) std::abort();
  if (::write(fds[1], input.data(), input.size()) != static_cast<ssize_t>(input.size()))
    std::abort();  // inputs here fit a pipe's buffer
  ::close(fds[1]);
  tool::StringSink out;
  std::ostringstream err;
  int status = tool::run_tool(args, fds[0], out, err, nullptr);
  ::close(fds[0]);
  return CliRun{status, out.text, err.str()};
}

// A snapshot of tests/data/snapshots.
inline std::string snapshot(const std::string& name) {
  return std::string(IOVAMAP_TEST_DATA) + "/snapshots/" + name;
}

}  // namespace iovamap
