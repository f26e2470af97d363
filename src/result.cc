// Error kinds and errno names (result.h).
#include "iovamap/result.h"

#include <cstring>

namespace iovamap {

std::string_view error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInput:
      return "input";
    case ErrorKind::kRefused:
      return "refused";
    case ErrorKind::kSystem:
      return "system";
  }
  return "input";
}

std::string errno_name(int code) {
  // glibc names every errno it knows (strerrorname_np, since 2.32); 0 is no error at all.
  if (code == 0) return "0";
  if (const char* name = strerrorname_np(code)) return name;
  return "E" + std::to_string(code);
}

}  // namespace iovamap
