// The library's version (version.h).
#include "iovamap/version.h"

namespace iovamap {

#define IOVAMAP_STR2_(x) #x
#define IOVAMAP_STR_(x) IOVAMAP_STR2_(x)

std::string_view version() {
  return IOVAMAP_STR_(IOVAMAP_VERSION_MAJOR) "." IOVAMAP_STR_(
      IOVAMAP_VERSION_MINOR) "." IOVAMAP_STR_(IOVAMAP_VERSION_PATCH);
}

}  // namespace iovamap
