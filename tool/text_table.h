// Text helpers of the command's text output: aligned columns, and host strings made safe to
// show on a terminal.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace iovamap::tool {

// `text` with everything a terminal could act on shown as an escape: control characters
// (below 0x20, 0x7f, and the C1 controls U+0080..U+009F) as \xNN, and bytes that are not
// UTF-8 as \xNN. Printable ASCII and valid UTF-8 pass unchanged.
std::string visible(std::string_view text);

// Columns padded to their widest cell, trailing spaces dropped.
class Table {
 public:
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  // One line per row, each starting with `indent`.
  void print(std::ostream& out, const std::string& indent = "  ") const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace iovamap::tool
