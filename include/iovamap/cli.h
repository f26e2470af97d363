// The `iovamap` command line, as a library function so tests run it in-process.
//
//   iovamap [--root DIR | --topology FILE] [--policy kernel|rfc|rfc-fixed|effective]
//           [--dma-limit BDF=BITS]... [--format text|json|sysfs] COMMAND
//     list                 groups, devices, drivers, IOMMUs, DMA limits and their sources
//     regions [GROUP...]   reserved regions per group
//     ranges GROUP...      usable IOVA ranges of one container holding these groups
//                          (VFIO type1 rules; --iommufd for IOAS rules)
//     check GROUP... --map FILE|-   check planned DMA mappings
//     info-cap GROUP...    the VFIO_IOMMU_GET_INFO reply bytes (--layout packed|aligned)
//     snapshot DIR         capture this host
//
// Output formats are documented in docs/json.md (json) and in each command's --help; `sysfs`
// prints exactly what the kernel's files hold (`regions`) or one "0x%016llx 0x%016llx" line
// per range (`ranges`).
//
// Example:
//   std::ostringstream out, err;
//   int status = run_cli({"iovamap", "--root", "snap", "--policy", "kernel", "--format",
//                         "sysfs", "regions", "6"}, std::cin, out, err);
//
// Exit status: 0 success, 1 a check failed (check: a mapping fails; ranges/info-cap: the
// groups cannot share a container), 2 bad usage or bad input (the message names the file and
// line). Errors go to `err`, never to `out`.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace iovamap {

// Runs the command line `args` (args[0] is the program name). `in` is read for "--map -".
int run_cli(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
            std::ostream& err);

}  // namespace iovamap
