#!/bin/sh
# The library never prints and never parses a command line (issue 9): its object code must not
# refer to the standard streams, printf-style output, or CLI11. Usage: library_prints_nothing.sh
# LIBIOVAMAP.a. Fails, listing the offending symbols, when one is found.
set -eu
lib="$1"
bad=$(nm -C --undefined-only "$lib" |
  grep -E ' (std::cout|std::cerr|std::clog|std::cin|stdout|stderr|stdin|printf|vprintf|fprintf|vfprintf|puts|fputs|putchar|perror|std::basic_ostream|CLI::)' |
  sort -u || true)
if [ -n "$bad" ]; then
  echo "libiovamap refers to printing or command-line code:"
  echo "$bad"
  exit 1
fi
echo "libiovamap: no printing, no command-line parsing ($(nm "$lib" | grep -c ' T ') functions)"
