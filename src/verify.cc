// `verify`: the running kernel against the model (verify.h).
#include "iovamap/verify.h"

#include <unistd.h>

#include <algorithm>
#include <optional>

#include "iommufd_live.h"
#include "iovamap/container.h"
#include "iovamap/sysfs_reader.h"
#include "iovamap/vfio_info.h"
#include "verify_compare.h"
#include "vfio_live.h"

namespace iovamap {
namespace {

// The VFIO cdevs (/dev/vfio/devices/vfioN) of every device of the groups, or empty when a
// device has none (no CONFIG_VFIO_DEVICE_CDEV, or not bound to vfio-pci).
std::vector<std::string> device_cdevs(SysfsReader& reader, const Host& host,
                                      const std::vector<uint32_t>& ids,
                                      const std::string& dev_dir) {
  std::vector<std::string> out;
  for (uint32_t id : ids) {
    for (const Device& d : host.find_group(id)->devices) {
      auto names = reader.list_dir("sys/bus/pci/devices/" + d.name + "/vfio-dev");
      if (!names || names->empty()) return {};
      out.push_back(dev_dir + "/vfio/devices/" + names->front());
    }
  }
  return out;
}

// The attach verdict when the kernel or the model refuses it: agreement when both refused.
Check attach_check(const std::optional<Error>& kernel, const std::optional<Error>& model) {
  auto side = [](const std::optional<Error>& e) {
    return e ? "refused with " + errno_name(e->code) + ": " + e->message : std::string("attached");
  };
  bool both = kernel && model && kernel->code == model->code;
  return Check{.what = "attach",
               .kernel = both ? "refused with " + errno_name(kernel->code) : side(kernel),
               .model = both ? "refused with " + errno_name(model->code) : side(model),
               .ok = both,
               .kernel_errno = kernel ? kernel->code : 0,
               .model_errno = model ? model->code : 0};
}

std::string groups_text(const std::vector<uint32_t>& ids) {
  std::string out;
  for (uint32_t id : ids) out += " " + std::to_string(id);
  return out;
}

}  // namespace

Result<VerifyReport> verify_host(const LoadedHost& loaded, const std::vector<uint32_t>& ids,
                                 const VerifyOptions& options) {
  if (loaded.source == HostSource::kTopology)
    return make_error(EINVAL, "verify asks a running kernel, and a topology describes none");
  const Host& host = loaded.host;
  IOVAMAP_ASSIGN_OR_RETURN(std::unique_ptr<SysfsReader> reader, open_root_reader(loaded.root));
  if (host.groups.empty())
    return make_system_error(ENODEV, "no IOMMU groups in " +
                                         reader->display("sys/kernel/iommu_groups") +
                                         ": this kernel has no active IOMMU, so VFIO cannot "
                                         "map anything");
  if (ids.empty()) return make_error(EINVAL, "no group given");
  for (uint32_t id : ids)
    if (!host.find_group(id))
      return make_error(ENOENT, "no IOMMU group " + std::to_string(id) + " in " + host.source);

  VerifyReport report{.group_ids = ids, .notes = loaded.notes_for(ids)};

  // The model first: it needs nothing but sysfs. A refused attach (EPERM, MSIs not isolated)
  // is a prediction to check like any other.
  Result<Type1Model> model = model_type1(host, ids, Policy::kKernel);
  if (!model && model.error().kind != ErrorKind::kRefused) return model.error();
  if (model)
    report.notes.insert(report.notes.end(), model->warnings.begin(), model->warnings.end());

  // Then the kernel.
  std::optional<std::vector<Range>> kernel_ranges;
  {
    Result<VfioType1Session> session = VfioType1Session::open(ids, options.dev_dir + "/vfio");
    if (!session && session.error().kind != ErrorKind::kRefused) {
      Error e = session.error();
      if (e.code == EACCES) e.message += " (run as root, or get access to it)";
      return e;
    }
    VerifySection type1{.title =
                            "VFIO type1, groups" + groups_text(ids) +
                            (options.probe && session && model ? " (with MAP_DMA probes)" : "")};
    if (!model || !session) {
      type1.checks.push_back(
          attach_check(session ? std::nullopt : std::optional<Error>(session.error()),
                       model ? std::nullopt : std::optional<Error>(model.error())));
    } else {
      const Type1Container& c = model->container;
      Type1Prediction prediction{.ranges = c.iova_list(), .iova_pgsizes = c.pgsize_bitmap()};
      for (const GroupModel& g : model->groups)
        prediction.pgsizes_known = prediction.pgsizes_known && g.page_sizes.has_value();
      GetInfoOptions info_options = GetInfoOptions::for_kernel(host.kernel);
      if (auto first = type1_get_info(c.info_state(), sizeof(VfioType1Info), info_options)) {
        if (auto reply = type1_get_info(c.info_state(), first->argsz, info_options)) {
          prediction.reply = reply->bytes;
          prediction.reply_undefined = reply->undefined;
        }
      }
      prediction.map_verdict = [&c](uint64_t iova, uint64_t size) {
        Type1Container fresh = c;  // each probe maps into the container as it is now
        Status s = fresh.map_dma(iova, size);
        return s ? 0 : s.error().code;
      };
      std::vector<Range> reserved;
      for (uint32_t id : ids) {
        const Group* g = host.find_group(id);
        if (!g->observed_regions) continue;
        for (const ReservedRegion& r : *g->observed_regions) reserved.push_back(r.range());
      }
      LiveType1Session live(*session);
      IOVAMAP_ASSIGN_OR_RETURN(VerifySection checks,
                               verify_type1(live, prediction, reserved, options.probe));
      type1.checks = std::move(checks.checks);
      IOVAMAP_ASSIGN_OR_RETURN(Type1Info info, session->get_info());
      kernel_ranges = info.iova_ranges;
    }
    report.sections.push_back(std::move(type1));
  }  // the container closes here, before iommufd claims the devices

  // iommufd, where the kernel has it.
  std::vector<std::string> cdevs = device_cdevs(*reader, host, ids, options.dev_dir);
  if (::access((options.dev_dir + "/iommu").c_str(), F_OK) == 0 && !cdevs.empty()) {
    Result<IoasModelResult> ioas_model = model_iommufd(host, ids, Policy::kKernel);
    if (!ioas_model && ioas_model.error().kind != ErrorKind::kRefused) return ioas_model.error();
    IOVAMAP_ASSIGN_OR_RETURN(IommufdSession ioas, IommufdSession::open(options.dev_dir + "/iommu"));
    std::optional<Error> refused;
    for (const std::string& cdev : cdevs) {
      if (Status s = ioas.attach(cdev); !s) {
        if (s.error().kind != ErrorKind::kRefused) return s.error();
        refused = s.error();
        break;
      }
    }
    VerifySection section{.title = "iommufd IOAS"};
    if (refused || !ioas_model) {
      section.checks.push_back(attach_check(
          refused, ioas_model ? std::nullopt : std::optional<Error>(ioas_model.error())));
    } else {
      IOVAMAP_ASSIGN_OR_RETURN(IoasRanges ranges, ioas.ranges());
      IovaRangesReply r = ioas_model->ioas.iova_ranges(~uint32_t{0});
      section.checks = verify_iommufd(ranges, {r.ranges, r.alignment}).checks;
    }
    report.sections.push_back(std::move(section));
  }

  // Another policy: every range it calls usable must be one the kernel accepts.
  if (loaded.policy != Policy::kKernel && kernel_ranges) {
    IOVAMAP_ASSIGN_OR_RETURN(ContainerReport narrower,
                             describe_container(host, ids, loaded.policy, ContainerRules::kType1));
    VerifySection section{.title = "policy " + std::string(policy_name(loaded.policy))};
    if (narrower.refusal) {
      section.checks.push_back(Check{.what = "usable ranges inside the kernel's",
                                     .kernel = to_string(*kernel_ranges),
                                     .model = "refused: " + narrower.refusal->message,
                                     .skipped = true});
    } else {
      std::vector<Range> usable;
      bool inside = true;
      for (const UsableRange& u : narrower.usable) {
        usable.push_back(u.range);
        inside = inside && std::any_of(kernel_ranges->begin(), kernel_ranges->end(),
                                       [&](const Range& k) { return k.contains(u.range); });
      }
      section.checks.push_back(Check{.what = "usable ranges inside the kernel's",
                                     .kernel = to_string(*kernel_ranges),
                                     .model = to_string(usable),
                                     .ok = inside});
    }
    report.sections.push_back(std::move(section));
  }
  return report;
}

}  // namespace iovamap
