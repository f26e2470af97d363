#include "iovamap/kernel_cmdline.h"

#include <algorithm>
#include <charconv>

namespace iovamap {

std::vector<std::string_view> cmdline_words(std::string_view cmdline) {
  std::vector<std::string_view> out;
  std::string_view rest = cmdline;
  while (!rest.empty()) {
    size_t sp = rest.find_first_of(" \n\t");
    if (sp != 0) out.push_back(rest.substr(0, sp));
    rest.remove_prefix(sp == std::string_view::npos ? rest.size() : sp + 1);
  }
  return out;
}

std::vector<CmdlineParam> cmdline_params(std::string_view cmdline, std::string_view name) {
  std::vector<CmdlineParam> out;
  // kernel/params.c, parameq/dash2underscore: '-' and '_' compare equal in parameter names.
  auto same = [](char a, char b) {
    return a == b || ((a == '-' || a == '_') && (b == '-' || b == '_'));
  };
  for (std::string_view word : cmdline_words(cmdline)) {
    std::string_view key = word.substr(0, word.find('='));
    if (key.size() != name.size() || !std::equal(key.begin(), key.end(), name.begin(), same))
      continue;
    CmdlineParam p{word, std::nullopt};
    if (key.size() < word.size()) p.value = word.substr(key.size() + 1);
    out.push_back(p);
  }
  return out;
}

std::vector<std::string_view> cmdline_driver_options(std::string_view cmdline,
                                                     std::string_view name) {
  std::vector<std::string_view> out;
  for (std::string_view word : cmdline_words(cmdline)) {
    std::string_view key = word.substr(0, word.find('='));
    if (key != name || key.size() == word.size()) continue;
    std::string_view options = word.substr(key.size() + 1);
    // The drivers' setup functions step from comma to comma, each option in turn.
    while (!options.empty()) {
      size_t comma = options.find(',');
      out.push_back(options.substr(0, comma));
      options.remove_prefix(comma == std::string_view::npos ? options.size() : comma + 1);
    }
  }
  return out;
}

std::optional<uint32_t> parse_kernel_uint(std::string_view t) {
  // lib/kstrtox.c: kstrtouint -> kstrtoull, whose _parse_integer_fixup_radix picks the base.
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  int base = 10;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    base = 16;
    t.remove_prefix(2);
  } else if (t.size() > 1 && t[0] == '0') {
    base = 8;
    t.remove_prefix(1);
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value, base);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
  if (value > UINT32_MAX) return std::nullopt;  // kstrtouint: ERANGE past an unsigned int
  return static_cast<uint32_t>(value);
}

std::optional<bool> parse_kernel_bool(std::string_view t) {
  if (t.empty()) return std::nullopt;
  switch (t[0]) {
    case 'y':
    case 'Y':
    case 't':
    case 'T':
    case 'e':
    case 'E':
    case '1':
      return true;
    case 'n':
    case 'N':
    case 'f':
    case 'F':
    case 'd':
    case 'D':
    case '0':
      return false;
    case 'o':
    case 'O':
      if (t.size() > 1 && (t[1] == 'n' || t[1] == 'N')) return true;
      if (t.size() > 1 && (t[1] == 'f' || t[1] == 'F')) return false;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

}  // namespace iovamap
