#include "iovamap/quantity.h"

#include <array>
#include <string>
#include <utility>

namespace iovamap {

namespace {

constexpr u128 kTwo64 = u128{1} << 64;

Error bad(std::string_view text, const std::string& why) {
  return make_error(EINVAL, "'" + std::string(text.substr(0, 64)) + "': " + why);
}

}  // namespace

Result<u128> parse_size(std::string_view text) {
  std::string_view t = text;
  if (t.empty()) return bad(text, "empty number");
  int base = 10;
  if (t.size() >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    base = 16;
    t.remove_prefix(2);
  }
  u128 value = 0;
  size_t digits = 0;
  while (!t.empty()) {
    char c = t.front();
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      break;
    }
    value = value * static_cast<unsigned>(base) + static_cast<unsigned>(d);
    if (value > kTwo64) return make_error(ERANGE, "'" + std::string(text) + "': above 2^64");
    ++digits;
    t.remove_prefix(1);
  }
  if (digits == 0) return bad(text, "expected a number (decimal, or hex with 0x)");
  if (t.empty()) return value;
  if (t.front() == ' ' && t.size() > 1) t.remove_prefix(1);
  static constexpr std::array<std::pair<std::string_view, int>, 12> kUnits = {{
      {"K", 10},
      {"KiB", 10},
      {"M", 20},
      {"MiB", 20},
      {"G", 30},
      {"GiB", 30},
      {"T", 40},
      {"TiB", 40},
      {"P", 50},
      {"PiB", 50},
      {"E", 60},
      {"EiB", 60},
  }};
  for (auto [unit, shift] : kUnits) {
    if (t != unit) continue;
    if (value > (kTwo64 >> shift))
      return make_error(ERANGE, "'" + std::string(text) + "': above 2^64");
    return value << shift;
  }
  return bad(text, "unknown unit '" + std::string(t.substr(0, 16)) +
                       "' (K, KiB, M, MiB, G, GiB, T, TiB, P, PiB, E, EiB)");
}

Result<uint64_t> parse_address(std::string_view text) {
  IOVAMAP_ASSIGN_OR_RETURN(u128 v, parse_size(text));
  if (v > kMaxAddress) return make_error(ERANGE, "'" + std::string(text) + "': above 2^64-1");
  return static_cast<uint64_t>(v);
}

}  // namespace iovamap
