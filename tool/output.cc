// The Output interface's defaults and the table of formats (output.h).
#include "output.h"

namespace iovamap::tool {

Status Output::unsupported(std::string_view command) const {
  return make_error(EINVAL,
                    "--format sysfs is for regions and ranges, not " + std::string(command));
}

Status Output::list(const LoadedHost&, const HostSummary&) {
  return unsupported("list");
}
Status Output::regions(const LoadedHost&, const std::vector<GroupModel>&,
                       const std::vector<std::string>&) {
  return unsupported("regions");
}
Status Output::ranges(const LoadedHost&, const ContainerReport&, const std::vector<std::string>&) {
  return unsupported("ranges");
}
Status Output::check_begin(const LoadedHost&, const std::vector<uint32_t>&) {
  return unsupported("check");
}
Status Output::check_verdict(const MappingVerdict&, const std::string&) {
  return unsupported("check");
}
Status Output::check_end(bool, const std::vector<std::string>&, const std::vector<std::string>&) {
  return unsupported("check");
}
Status Output::refused(const LoadedHost&, std::string_view command, const std::vector<uint32_t>&,
                       const Error&, const std::vector<std::string>&) {
  return unsupported(command);
}
Status Output::info_cap(const LoadedHost&, const InfoCapReport&) {
  return unsupported("info-cap");
}
Status Output::assignable(const LoadedHost&, const std::vector<AssignReport>&,
                          const std::vector<std::string>&) {
  return unsupported("assignable");
}
Status Output::snapshot(const SnapshotReport&) {
  return unsupported("snapshot");
}
Status Output::verify(const LoadedHost&, const VerifyReport&) {
  return unsupported("verify");
}
Status Output::vm_check(const LoadedHost&, const VmCheckReport&, const std::vector<std::string>&) {
  return unsupported("vm-check");
}

std::unique_ptr<Output> make_text_output(std::ostream& out, const OutputOptions& options);
std::unique_ptr<Output> make_json_output(std::ostream& out, const OutputOptions& options);
std::unique_ptr<Output> make_sysfs_output(std::ostream& out, const OutputOptions& options);
std::unique_ptr<Output> make_svg_output(std::ostream& out, const OutputOptions& options);

const std::vector<FormatRow>& formats() {
  static const std::vector<FormatRow> rows = {
      {"text", "for people (the default)", make_text_output},
      {"json", "for programs: one object, compact (--pretty: indented); docs/json.md",
       make_json_output},
      {"sysfs", "the kernel's own formats: regions as reserved_regions, ranges one per line",
       make_sysfs_output},
      {"svg", "a picture: regions, ranges and vm-check on a broken 64-bit axis", make_svg_output},
  };
  return rows;
}

std::unique_ptr<Output> make_output(std::string_view format, std::ostream& out,
                                    const OutputOptions& options) {
  for (const FormatRow& row : formats())
    if (row.name == format) return row.make(out, options);
  return nullptr;
}

}  // namespace iovamap::tool
