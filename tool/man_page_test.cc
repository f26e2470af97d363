// man/iovamap.1 says what the command does: every command of the table (command.cc) has its
// own subsection and no other command does, every option `iovamap --help` and `iovamap CMD
// --help` list is documented, and the version is the program's.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "command.h"
#include "iovamap/version.h"
#include "run_for_test.h"

namespace iovamap {
namespace {

// The page with troff's escaped hyphens made plain.
std::string man_page() {
  std::ifstream in(std::string(IOVAMAP_SOURCE_DIR) + "/man/iovamap.1");
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  for (size_t p; (p = s.find("\\-")) != std::string::npos;) s.replace(p, 2, "-");
  return s;
}

// The option names a --help text lists ("-h", "--help", "--root", ...).
std::set<std::string> help_options(const std::string& help) {
  std::set<std::string> out;
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);) {
    size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos || line[start] != '-') continue;
    std::string names = line.substr(start, line.find(' ', start) - start);
    std::istringstream parts(names);
    for (std::string name; std::getline(parts, name, ',');)
      if (!name.empty()) out.insert(name);
  }
  return out;
}

TEST(ManPage, HasEveryCommandAndNoOther) {
  std::string page = man_page();
  ASSERT_NE(page.find(".SH COMMANDS"), std::string::npos);
  std::set<std::string> in_table, in_page;
  for (const tool::CommandRow& row : tool::commands()) in_table.emplace(row.name);
  std::string commands = page.substr(page.find(".SH COMMANDS"));
  commands = commands.substr(0, commands.find("\n.SH ", 1));
  // Each `.SS "name ...` (or `.SS name`) heading names a command.
  for (size_t at = commands.find("\n.SS "); at != std::string::npos;
       at = commands.find("\n.SS ", at + 1)) {
    size_t i = at + 5;
    if (i < commands.size() && commands[i] == '"') ++i;
    std::string name;
    for (; i < commands.size(); ++i) {
      char ch = commands[i];
      if ((ch < 'a' || ch > 'z') && ch != '-') break;
      name += ch;
    }
    in_page.insert(name);
  }
  EXPECT_EQ(in_page, in_table);
}

TEST(ManPage, DocumentsEveryOptionOfTheHelp) {
  std::string page = man_page();
  CliRun global = run({"--help"});
  ASSERT_EQ(global.status, 0);
  std::set<std::string> options = help_options(global.out);
  EXPECT_TRUE(options.count("--root")) << global.out;  // the parser reads CLI11's layout
  for (const tool::CommandRow& row : tool::commands()) {
    CliRun r = run({std::string(row.name), "--help"});
    ASSERT_EQ(r.status, 0) << row.name;
    std::set<std::string> mine = help_options(r.out);
    options.insert(mine.begin(), mine.end());
  }
  options.insert("--version");
  for (const std::string& o : options) {
    // As a word (man_page() made troff's hyphens plain): "-n" must not be found inside
    // "--dma-limit".
    auto is_word_char = [](char ch) {
      return ch == '-' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
    };
    bool found = false;
    for (size_t at = page.find(o); at != std::string::npos && !found; at = page.find(o, at + 1)) {
      size_t end = at + o.size();
      found = (at == 0 || !is_word_char(page[at - 1])) &&
              (end == page.size() || !is_word_char(page[end]));
    }
    EXPECT_TRUE(found) << o << " is not in man/iovamap.1";
  }
}

TEST(ManPage, VersionAndExitStatuses) {
  std::string page = man_page();
  EXPECT_NE(page.find("\"iovamap " + std::string(version()) + "\""), std::string::npos)
      << "the .TH line names another version";
  std::string exit = page.substr(page.find(".SH EXIT STATUS"));
  for (int status : {tool::kExitYes, tool::kExitNo, tool::kExitError})
    EXPECT_NE(exit.find(".B " + std::to_string(status) + "\n"), std::string::npos) << status;
}

}  // namespace
}  // namespace iovamap
