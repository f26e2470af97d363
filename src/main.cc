// The iovamap command: a thin layer over libiovamap. Filled in by the CLI work (issue 3).
#include <cstdio>

int main() {
  std::puts("iovamap: not yet implemented");
  return 2;
}
