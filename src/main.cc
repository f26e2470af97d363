// The iovamap command: a thin layer over libiovamap (the commands are in src/cli.cc).
#include <iostream>
#include <string>
#include <vector>

#include "iovamap/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  return iovamap::run_cli(args, std::cin, std::cout, std::cerr);
}
