// The version of iovamap: this header is where it is set (CMake reads it from here).
//
// Example:
//   static_assert(IOVAMAP_VERSION_MAJOR == 0);
//   std::string_view v = iovamap::version();   // "0.2.0"
//
// Sharp edge: the macros say which headers a program was compiled against; `version()` says
// which library it runs with. They differ when a shared library was upgraded underneath.
#pragma once

#include <string_view>

#define IOVAMAP_VERSION_MAJOR 0
#define IOVAMAP_VERSION_MINOR 2
#define IOVAMAP_VERSION_PATCH 0

namespace iovamap {

// "MAJOR.MINOR.PATCH" of the library this program runs with.
std::string_view version();

}  // namespace iovamap
