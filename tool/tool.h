// The iovamap command as a function, so that tests run it in-process and main() stays a few
// lines: parse the command line, load the host once, run the command's row, render its answer
// with the chosen back-end. Nothing is written to `out` unless the command succeeded (exit 0)
// or answered no (exit 1); `check` streams its verdicts once its whole map file has been read
// and found good. Errors go to `err` as "iovamap: MESSAGE".
//
// Example:
//   StringSink out;
//   std::ostringstream err;
//   int status = run_tool({"iovamap", "--root", "snap", "ranges", "01:00.0"}, 0, out, err,
//                         nullptr);
//
// Exit status: 0 yes, 1 no (a check failed, the kernel would refuse, verify disagrees),
// 2 bad usage, bad input (the message names the file and line) or a system error.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "output_sink.h"
#include "pci_names.h"

namespace iovamap::tool {

inline constexpr int kExitYes = 0;
inline constexpr int kExitNo = 1;
inline constexpr int kExitError = 2;

// Runs the command line `args` (args[0] is the program's name). `in_fd` is read for
// "--map -"; `names` gives vendor and device names (nullptr: none). A failed write to `out`
// ends the command with exit 2 and the reason on `err`.
int run_tool(const std::vector<std::string>& args, int in_fd, OutputSink& out, std::ostream& err,
             const PciNames* names);

// The closest of `candidates` to `word` (edit distance at most 2, or a prefix), or "".
std::string closest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace iovamap::tool
