// The commands of the iovamap tool as one table: a row is a name, a line of help, whether the
// command needs a host, its own options, and the function that runs it. Adding a command is
// one row and one function (and, for its output, one method of Output).
//
// Example (a row):
//   {"ranges", "usable IOVA ranges of one container holding these groups or devices",
//    "iovamap ranges 01:00.0", kNeedsHost, add_ranges_options, run_ranges}
//
// A command function gets the parsed options, the loaded host (when the row asks for one) and
// the Output, and answers yes (true: exit 0) or no (false: exit 1: a check failed, the kernel
// would refuse); an Error ends the command with its kind's exit status (2 for input and
// system errors, 1 for a refusal).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/host_loader.h"
#include "iovamap/result.h"
#include "output.h"

namespace iovamap::tool {

// Everything the command line can say, global options and each command's own.
struct Options {
  // Where the host comes from, and how to read it.
  std::string root;
  std::string topology;
  std::string policy = "effective";
  std::vector<std::string> dma_limits;
  std::string pci_boot_config;  // "", "preserved", "not-preserved"
  // What to select: positional groups or devices, and -d VENDOR:DEVICE filters.
  std::vector<std::string> selectors;
  std::vector<std::string> id_filters;
  // How to show it.
  std::string format = "text";
  bool pretty = false;
  bool numeric = false;
  // Commands' own options.
  bool iommufd = false;      // ranges --iommufd
  std::string map_file;      // check --map
  std::string layout;        // info-cap --layout
  std::string snapshot_dir;  // snapshot DIR
  bool probe = false;        // verify --probe
  // vm-check: the VM (one of the three files, or QEMU's arguments after --) and what a
  // topology cannot say about the host.
  std::string vm_qemu;
  std::string vm_libvirt;
  std::string vm_proxmox;
  std::vector<std::string> vm_args;
  unsigned host_phys_bits = 0;    // 0: from proc/cpuinfo
  std::string host_cpu_vendor;    // intel | amd; "": from proc/cpuinfo
  std::vector<std::string> bars;  // DEVICE=SIZE: a 64-bit prefetchable BAR of an assigned device
  std::string bar_value;          // CLI11's slot for one --bar (bars collects them)
};

struct Context {
  const Options& options;
  const LoadedHost* host = nullptr;  // when the row needs a host
  Output& output;
  int in_fd = 0;  // read for "--map -"
  // For a command that streams: hands what the Output has rendered so far to the sink, once
  // there is enough of it (or always with `force`); a failed write is the error.
  std::function<Status(bool force)> flush = [](bool) { return Status(); };
};

struct CommandRow {
  std::string_view name;
  std::string_view help;
  std::string_view example;  // shown under the command's --help
  bool needs_host;
  // Adds the command's own options and positionals to its CLI11 subcommand.
  void (*add_options)(CLI::App& command, Options& options);
  Result<bool> (*run)(Context& context);
};

// The table, in the order `--help` lists it.
const std::vector<CommandRow>& commands();

}  // namespace iovamap::tool
