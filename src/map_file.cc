#include "iovamap/map_file.h"

#include "iovamap/quantity.h"

namespace iovamap {

namespace {

// Splits at runs of spaces and tabs.
std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace

Result<std::vector<PlannedMapping>> parse_map_file(std::string_view text,
                                                   const std::string& file_name) {
  std::vector<PlannedMapping> out;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::vector<std::string_view> f = fields(line);
    if (f.empty()) continue;
    auto where = [&] { return file_name + ":" + std::to_string(line_number) + ": "; };
    std::string size_text;
    if (f.size() == 2) {
      size_text = f[1];
    } else if (f.size() == 3) {
      size_text = std::string(f[1]) + " " + std::string(f[2]);  // "16 MiB"
    } else {
      return make_error(EINVAL, where() + "expected 'IOVA SIZE'");
    }
    Result<uint64_t> iova = parse_address(f[0]);
    if (!iova) return make_error(EINVAL, where() + "IOVA " + iova.error().message);
    Result<u128> size = parse_size(size_text);
    if (!size) return make_error(EINVAL, where() + "size " + size.error().message);
    out.push_back(PlannedMapping{*iova, *size, line_number});
  }
  return out;
}

}  // namespace iovamap
