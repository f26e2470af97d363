// Private: blanks around a word of a VM file (vm_proxmox.cc, vm_host.cc).
#pragma once

#include <string_view>

namespace iovamap::detail {

// `s` without leading blanks (space, tab) and trailing blanks or a carriage return.
inline std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace iovamap::detail
