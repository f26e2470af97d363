// The output back-ends of the iovamap command: one interface, one class per --format.
//
// Every command builds its answer as a value (a HostSummary, a ContainerReport, verdicts, a
// VerifyReport) and hands it to the Output the user chose; the Output renders it onto the
// stream it was made with. Adding a format is one class and one row of `formats()`; adding a
// command is one method here (whose default refuses the command for formats that lack it).
//
// Example:
//   std::ostringstream out;
//   std::unique_ptr<Output> o = make_output("json", out, {.pretty = true});
//   IOVAMAP_RETURN_IF_ERROR(o->ranges(loaded, report, notes));
//
// Sharp edges:
//   - Strings from a host (names, drivers, file contents) are data: the text back-end shows
//     control characters escaped, the JSON back-end replaces bytes that are not UTF-8 (and says
//     so in "notes").
//   - `check` streams: check_begin, one check_verdict per mapping, then check_end.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/assignability.h"
#include "iovamap/container.h"
#include "iovamap/host_loader.h"
#include "iovamap/host_summary.h"
#include "iovamap/mapping_check.h"
#include "iovamap/policy.h"
#include "iovamap/result.h"
#include "iovamap/snapshot.h"
#include "iovamap/verify.h"
#include "iovamap/vfio_info.h"
#include "iovamap/vm_check.h"
#include "pci_names.h"

namespace iovamap::tool {

struct OutputOptions {
  bool pretty = false;              // JSON: indented, several lines
  bool numeric = false;             // text: numeric ids only, no names (lspci -n)
  const PciNames* names = nullptr;  // vendor and device names; nullptr: none
};

// The VFIO_IOMMU_GET_INFO reply a container would give (info-cap).
struct InfoCapReport {
  std::vector<uint32_t> group_ids;
  CapLayout layout = CapLayout::kAligned;
  GetInfoReply reply;
  std::vector<std::string> notes;
};

class Output {
 public:
  virtual ~Output() = default;

  virtual Status list(const LoadedHost& host, const HostSummary& summary);
  virtual Status regions(const LoadedHost& host, const std::vector<GroupModel>& groups,
                         const std::vector<std::string>& notes);
  virtual Status ranges(const LoadedHost& host, const ContainerReport& report,
                        const std::vector<std::string>& notes);
  virtual Status check_begin(const LoadedHost& host, const std::vector<uint32_t>& group_ids);
  // `where` is "FILE:LINE" of the mapping.
  virtual Status check_verdict(const MappingVerdict& verdict, const std::string& where);
  virtual Status check_end(bool ok, const std::vector<std::string>& warnings,
                           const std::vector<std::string>& notes);
  // A container the kernel would not build, for a command that needs one (check, info-cap).
  virtual Status refused(const LoadedHost& host, std::string_view command,
                         const std::vector<uint32_t>& group_ids, const Error& refusal,
                         const std::vector<std::string>& notes);
  virtual Status info_cap(const LoadedHost& host, const InfoCapReport& report);
  // Whether VFIO type1 and iommufd would take the groups: one report per rules.
  virtual Status assignable(const LoadedHost& host, const std::vector<AssignReport>& reports,
                            const std::vector<std::string>& notes);
  virtual Status snapshot(const SnapshotReport& report);
  virtual Status verify(const LoadedHost& host, const VerifyReport& report);
  // vm-check: the VM's layout, each mapping's verdict, and the fix.
  virtual Status vm_check(const LoadedHost& host, const VmCheckReport& report,
                          const std::vector<std::string>& notes);

 protected:
  // The error for a command this format cannot show.
  virtual Status unsupported(std::string_view command) const;
};

// One row per format: the name --format takes, and how to make it.
struct FormatRow {
  std::string_view name;
  std::string_view help;
  std::unique_ptr<Output> (*make)(std::ostream& out, const OutputOptions& options);
};
const std::vector<FormatRow>& formats();

// The Output for `format` (a name of formats()), or nullptr.
std::unique_ptr<Output> make_output(std::string_view format, std::ostream& out,
                                    const OutputOptions& options);

}  // namespace iovamap::tool
