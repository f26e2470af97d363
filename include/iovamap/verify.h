// Verification: ask the running kernel (VFIO type1, iommufd) and compare with the model.
//
// `verify_host` models the groups in one VFIO type1 container under the kernel policy, opens
// the same groups for real, and compares the IOVA ranges, page sizes and GET_INFO reply bytes,
// and with `probe` the MAP_DMA verdict at every boundary. Where /dev/iommu and the devices'
// VFIO cdevs exist it also attaches the devices to one iommufd IOAS and compares
// IOMMU_IOAS_IOVA_RANGES and the alignment. An attach both sides refuse (EPERM, MSIs not
// isolated) is an agreement. Under another policy than `kernel` it also checks that every range
// that policy calls usable is one the kernel accepts (a narrower answer must stay inside).
//
// Example:
//   Result<LoadedHost> host = load_host({.source = HostSource::kLive});
//   Result<VerifyReport> r = verify_host(*host, {7, 8}, {.probe = true});
//   if (!r) return r.error();        // kSystem: no VFIO, no permission, a group not viable
//   r->ok();                         // false: a section has a MISMATCH, both sides in it
//
// Sharp edges:
//   - It never binds or unbinds drivers; the groups must already be usable by VFIO.
//   - `probe` maps one page at each boundary for real and unmaps it at once; a page mapped at
//     2^64-1 stays mapped until the container closes (a kernel quirk).
//   - Everything opened is closed before it returns, also on error.
//   - Reply bytes are compared in the layout of the host's kernel (packed before 6.6, aligned
//     from 6.6; vfio_info.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "iovamap/host_loader.h"
#include "iovamap/result.h"

namespace iovamap {

// One comparison: what was compared, both sides as text, and whether they agree.
struct Check {
  std::string what;  // e.g. "VFIO IOVA ranges", "MAP_DMA 0x00000000fee00000"
  std::string kernel;
  std::string model;
  bool ok = false;
  bool skipped = false;  // the model cannot know this fact (e.g. not in sysfs): not judged
  // For a verdict (MAP_DMA, attach): each side's errno, 0 when it accepted; empty otherwise.
  std::optional<int> kernel_errno;
  std::optional<int> model_errno;
};

// The checks of one container (type1, iommufd) or of one policy, under a title:
// "VFIO type1, groups 7 8 (with MAP_DMA probes)", "iommufd IOAS".
struct VerifySection {
  std::string title;
  std::vector<Check> checks;
  // True when every check agrees or is skipped.
  bool ok() const;
};

struct VerifyReport {
  std::vector<uint32_t> group_ids;
  std::vector<std::string> notes;  // what the user should know (observed regions, warnings)
  std::vector<VerifySection> sections;
  bool ok() const;
};

struct VerifyOptions {
  bool probe = false;            // also MAP_DMA one page at every boundary
  std::string dev_dir = "/dev";  // where vfio/ and iommu are
};

// Verifies `group_ids` (attach order) of a host read from a running kernel (`loaded.root`;
// a topology is refused, EINVAL). Errors: kInput (no such group, a topology), kSystem (no
// IOMMU groups, no VFIO, no permission, a group not viable, an ioctl failed): the kernel could
// not be asked. A disagreement is not an error: it is in the report.
Result<VerifyReport> verify_host(const LoadedHost& loaded, const std::vector<uint32_t>& group_ids,
                                 const VerifyOptions& options);

}  // namespace iovamap
