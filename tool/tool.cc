// The iovamap command's pipeline (tool.h): parse, load the host once, run the command's row,
// render, and only then write.
#include "tool.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <optional>
#include <sstream>

#include "command.h"
#include "iovamap/version.h"
#include "output.h"
#include "text_table.h"

namespace iovamap::tool {
namespace {

int exit_status(const Error& e) {
  return e.kind == ErrorKind::kRefused ? kExitNo : kExitError;
}

int fail(std::ostream& err, const std::string& message, int status = kExitError) {
  err << "iovamap: " << visible(message) << '\n';
  return status;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The word where the command should be: the first argument that is neither an option nor the
// value of a global option that takes one; "" when there is none.
std::string command_word(const CLI::App& app, const std::vector<std::string>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") return i + 1 < args.size() ? args[i + 1] : "";
    if (a.empty() || a[0] != '-') return a;
    if (a.find('=') != std::string::npos) continue;
    for (const CLI::Option* opt : app.get_options())
      if (opt->check_name(a) && opt->get_expected_min() > 0) ++i;  // its value follows
  }
  return "";
}

}  // namespace

std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = 3;
  for (const std::string& c : candidates) {
    size_t d = c.rfind(word, 0) == 0 && !word.empty() ? 1 : edit_distance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

int run_tool(const std::vector<std::string>& args, int in_fd, OutputSink& out, std::ostream& err,
             const PciNames* names) {
  // 1. The command line: global options, then one subcommand per row of the table.
  Options o;
  CLI::App app{"iovamap: which I/O virtual addresses a Linux device can really use"};
  app.name("iovamap");
  app.footer(
      "Groups and devices: an IOMMU group number (7), or a device as lspci -s writes it\n"
      "(01:00.0, 0000:01:00.0); -d VENDOR:DEVICE selects as lspci -d does.\n"
      "Exit status: 0 yes; 1 no (a check failed, the kernel would refuse, verify disagrees);\n"
      "2 bad usage, bad input (the message names the file and line) or a system error.\n"
      "iovamap COMMAND --help explains a command.");
  app.set_version_flag("--version", "iovamap " + std::string(version()));
  auto* root = app.add_option("--root", o.root, "read a snapshot directory instead of /");
  auto* topo = app.add_option("--topology", o.topology, "read a what-if host (TOML)");
  root->excludes(topo);
  app.add_option("--policy", o.policy, "kernel | rfc | rfc-fixed | effective (default)")
      ->check(CLI::IsMember({"kernel", "rfc", "rfc-fixed", "effective"}));
  app.add_option("--dma-limit", o.dma_limits,
                 "declare a device's DMA limit: DEVICE=BITS (DEVICE as lspci -s or -d writes it)")
      ->allow_extra_args(false);
  app.add_option("--pci-boot-config", o.pci_boot_config,
                 "preserved | not-preserved: the PCI host bridges' ACPI _DSM function 5, which "
                 "decides whether IORT RMRs reach PCI devices (default: unknown, a note)")
      ->check(CLI::IsMember({"preserved", "not-preserved"}));
  app.add_option("-d", o.id_filters, "select devices by id as lspci -d: VENDOR:DEVICE[:CLASS]")
      ->allow_extra_args(false);
  std::vector<std::string> format_names;
  for (const FormatRow& f : formats()) format_names.emplace_back(f.name);
  app.add_option("--format", o.format, "text (default) | json | sysfs | svg")
      ->check(CLI::IsMember(format_names));
  app.add_flag("--pretty", o.pretty, "JSON indented on several lines");
  app.add_flag("-n", o.numeric, "numeric ids only, no vendor and device names (lspci -n)");
  std::vector<CLI::App*> subcommands;
  std::vector<std::string> command_names;
  for (const CommandRow& row : commands()) {
    CLI::App* sub = app.add_subcommand(std::string(row.name), std::string(row.help));
    sub->footer(std::string(row.example));
    row.add_options(*sub, o);
    sub->fallthrough();  // global options may follow the command
    subcommands.push_back(sub);
    command_names.emplace_back(row.name);
  }

  // A word where the command goes that is no command: say so, with the closest one.
  std::string word = command_word(app, args);
  if (!word.empty() &&
      std::find(command_names.begin(), command_names.end(), word) == command_names.end()) {
    std::string guess = closest(word, command_names);
    return fail(err, "'" + word + "' is not a command" +
                         (guess.empty() ? "" : "; did you mean '" + guess + "'?") +
                         " (iovamap --help lists them)");
  }
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  if (argv.empty()) argv.push_back("iovamap");
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::Success& e) {  // --help, --version (CLI11 derives both from Success)
    std::ostringstream help, ignored;
    app.exit(e, help, ignored);
    if (Status s = out.write(help.str()); !s) return fail(err, s.error().message);
    return kExitYes;
  } catch (const CLI::ParseError& e) {
    return fail(err, std::string(e.what()) + " (iovamap --help explains the options)");
  }
  const CommandRow* row = nullptr;
  for (size_t i = 0; i < subcommands.size(); ++i)
    if (subcommands[i]->parsed()) row = &commands()[i];
  if (!row) {
    std::string list;
    for (const std::string& n : command_names) list += (list.empty() ? "" : ", ") + n;
    return fail(err, "a command is required: " + list + " (iovamap --help explains them)");
  }

  // 2. The back-end, writing into a buffer: nothing reaches `out` unless the command answers.
  std::ostringstream buffer;
  std::unique_ptr<Output> output =
      make_output(o.format, buffer, {.pretty = o.pretty, .numeric = o.numeric, .names = names});

  // 3. The host, once.
  std::optional<LoadedHost> host;
  if (row->needs_host) {
    HostSpec spec;
    spec.source = !o.topology.empty() ? HostSource::kTopology
                  : !o.root.empty()   ? HostSource::kSnapshot
                                      : HostSource::kLive;
    spec.path = !o.topology.empty() ? o.topology : !o.root.empty() ? o.root : "/";
    spec.policy = *parse_policy(o.policy);  // checked by CLI11 above
    spec.dma_limits = o.dma_limits;
    if (!o.pci_boot_config.empty())
      spec.pci_boot_config_preserved = o.pci_boot_config == "preserved";
    Result<LoadedHost> loaded = load_host(spec);
    if (!loaded) return fail(err, loaded.error().message, exit_status(loaded.error()));
    host = std::move(*loaded);
  }

  // 4. The command, then the answer.
  Context context{o, host ? &*host : nullptr, *output, in_fd};
  context.flush = [&](bool force) -> Status {
    constexpr std::streamoff kChunk = 1 << 16;
    if (!force && buffer.tellp() < kChunk) return {};
    IOVAMAP_RETURN_IF_ERROR(out.write(buffer.view()));
    buffer.str("");
    return {};
  };
  Result<bool> answer = row->run(context);
  if (!answer) return fail(err, answer.error().message, exit_status(answer.error()));
  if (Status s = context.flush(true); !s) return fail(err, s.error().message);
  return *answer ? kExitYes : kExitNo;
}

}  // namespace iovamap::tool
