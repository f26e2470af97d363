// The sysfs back-end: exactly the kernel's own formats (output.h). `regions` prints what
// /sys/kernel/iommu_groups/<n>/reserved_regions holds; `ranges` one "0x%016llx 0x%016llx" line
// per usable range, the format of VFIO's ranges in the lab's golden files.
#include "output.h"

namespace iovamap::tool {
namespace {

class SysfsOutput : public Output {
 public:
  explicit SysfsOutput(std::ostream& out) : out_(out) {}

  Status regions(const LoadedHost&, const std::vector<GroupModel>& models,
                 const std::vector<std::string>&) override {
    for (const GroupModel& m : models) {
      if (models.size() > 1) out_ << "# group " << m.group_id << '\n';
      out_ << m.regions.to_sysfs();
    }
    return {};
  }

  Status ranges(const LoadedHost&, const ContainerReport& r,
                const std::vector<std::string>&) override {
    // The kernel's format has no way to say "refused": the refusal goes to stderr (exit 1).
    if (r.refusal) return *r.refusal;
    std::vector<Range> usable;
    for (const UsableRange& u : r.usable) usable.push_back(u.range);
    out_ << to_sysfs_lines(usable);
    return {};
  }

 private:
  std::ostream& out_;
};

}  // namespace

std::unique_ptr<Output> make_sysfs_output(std::ostream& out, const OutputOptions&) {
  return std::make_unique<SysfsOutput>(out);
}

}  // namespace iovamap::tool
