// `iovamap verify GROUP... [--probe]` as a library function: the CLI's subcommand and the
// lab's guest program both call `run_verify`.
//
// It reads the host (discovery over `root`), models the groups in one VFIO type1 container
// under the kernel policy (container.h), opens the same groups for real (vfio_live.h),
// compares ranges, page sizes and GET_INFO reply bytes, and with `probe` the MAP_DMA verdict at
// every boundary. Where /dev/iommu and the devices' VFIO cdevs exist it also attaches the
// devices to one iommufd IOAS and compares IOMMU_IOAS_IOVA_RANGES and the alignment.
//
// Example:
//   VerifyOptions o{.groups = {"7", "8"}, .probe = true};
//   int status = run_verify(o, std::cout, std::cerr);   // 0 agree, 1 mismatch, 2 cannot ask
//
// Sharp edges:
//   - It never binds or unbinds drivers; groups must already be usable by VFIO.
//   - Exit 2 (kVerifyCannotAsk) for: no IOMMU groups, an unknown group, no VFIO, no
//     permission, a group not viable; the message says which and what to do.
//   - Everything opened is closed before it returns (sessions are RAII), also on error.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace iovamap {

struct VerifyOptions {
  std::vector<std::string> groups;  // group numbers, as the user typed them
  bool probe = false;               // also MAP_DMA one page at every boundary
  std::string root = "/";           // where /sys and /proc are (a snapshot in tests)
  std::string dev_dir = "/dev";     // where vfio/ and iommu are
};

// Runs the verification and returns the exit status: 0 when the kernel and the model agree on
// everything, 1 on a mismatch (both sides printed to `out`), 2 when the kernel could not be
// asked (the reason printed to `err`).
int run_verify(const VerifyOptions& options, std::ostream& out, std::ostream& err);

}  // namespace iovamap
