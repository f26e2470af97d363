#include "verify_command.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "iommufd_live.h"
#include "iovamap/container.h"
#include "iovamap/discovery.h"
#include "iovamap/sysfs_reader.h"
#include "iovamap/vfio_info.h"
#include "verify.h"
#include "vfio_live.h"

namespace iovamap {
namespace {

Result<std::vector<uint32_t>> parse_group_ids(const std::vector<std::string>& groups) {
  if (groups.empty()) return make_error(EINVAL, "no group given");
  std::vector<uint32_t> ids;
  for (const std::string& g : groups) {
    uint32_t id = 0;
    auto [end, ec] = std::from_chars(g.data(), g.data() + g.size(), id);
    if (ec != std::errc() || end != g.data() + g.size()) {
      return make_error(EINVAL, "'" + g + "' is not an IOMMU group number");
    }
    ids.push_back(id);
  }
  return ids;
}

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

// Whether an error is the kernel refusing to attach (type1: VFIO_GROUP_SET_CONTAINER or
// VFIO_SET_IOMMU) or to bind (iommufd: VFIO_DEVICE_BIND_IOMMUFD) with EPERM, the MSI isolation
// check; a group that is not viable also gives EPERM, earlier, and is not this.
bool refused_attach(const Error& e) {
  return e.code == EPERM && (e.message.find("VFIO_GROUP_SET_CONTAINER") != std::string::npos ||
                             e.message.find("VFIO_SET_IOMMU") != std::string::npos ||
                             e.message.find("VFIO_DEVICE_BIND_IOMMUFD") != std::string::npos);
}

// When the kernel or the model refuses the attach: both sides in the report's style; true
// when both refused.
bool print_attach_verdict(std::ostream& out, const std::optional<Error>& kernel,
                          const std::optional<Error>& model) {
  if (kernel && model) {
    out << "ok        attach: refused with EPERM (MSIs not isolated, unsafe interrupts not "
           "allowed)\n";
    return true;
  }
  out << "MISMATCH  attach\n    kernel: " << (kernel ? kernel->message : "attached")
      << "\n    model:  " << (model ? model->message : "attached") << "\n";
  return false;
}

}  // namespace

int run_verify(const VerifyOptions& options, std::ostream& out, std::ostream& err) {
  auto fail = [&](const std::string& message) {
    err << "iovamap verify: " << message << "\n";
    return kVerifyCannotAsk;
  };
  auto ids = parse_group_ids(options.groups);
  if (!ids) return fail(ids.error().message);
  auto reader = open_root_reader(options.root);
  if (!reader) return fail(reader.error().message);
  auto found = discover(**reader, options.root == "/" ? "live host" : "snapshot " + options.root);
  if (!found) return fail(found.error().message);
  Host& host = found->host;
  if (host.groups.empty()) {
    return fail("no IOMMU groups in " + (*reader)->display("sys/kernel/iommu_groups") +
                ": this kernel has no active IOMMU, so VFIO cannot map anything");
  }
  for (uint32_t id : *ids) {
    if (!host.find_group(id)) return fail("no IOMMU group " + std::to_string(id));
  }

  // virtio-iommu regions come from the device's PROBE reply, which sysfs does not show: they
  // are taken from reserved_regions (the only input that is), and the page sizes are unknown.
  bool virtio = false;
  for (uint32_t id : *ids) {
    const IommuUnit* unit = host.iommu_of(*host.find_group(id));
    virtio = virtio || (unit && driver_traits(*unit).regions_probed_per_endpoint);
  }
  if (virtio) {
    for (const ObservedNote& n : explain_observed_regions(host)) {
      if (std::find(ids->begin(), ids->end(), n.group_id) != ids->end())  // the groups asked about
        out << "note: virtio-iommu PROBE regions are not in sysfs; " << n.message << "\n";
    }
  }

  // The model first: it needs nothing but sysfs. EPERM (MSIs not isolated) is a prediction
  // to check, like any other.
  auto model = model_type1(host, *ids, Policy::kKernel);
  if (!model && model.error().code != EPERM) {
    return fail("the model cannot put these groups in one container: " + model.error().message);
  }
  if (model)
    for (const std::string& w : model->warnings) out << "note: " << w << "\n";

  // Then the kernel.
  auto session = VfioType1Session::open(options.groups, options.dev_dir + "/vfio");
  if (!session && !refused_attach(session.error())) {
    std::string hint = session.error().code == EACCES ? " (run as root, or get access to it)" : "";
    return fail(session.error().message + hint);
  }
  bool ok = true;
  if (!model || !session) {
    out << "VFIO type1, groups";
    for (const auto& g : options.groups) out << " " << g;
    out << ":\n";
    ok = print_attach_verdict(out, session ? std::nullopt : std::optional<Error>(session.error()),
                              model ? std::nullopt : std::optional<Error>(model.error()));
    session = make_error(0, "closed");
  } else {
    const Type1Container& c = model->container;
    Type1Prediction prediction{.ranges = c.iova_list(), .iova_pgsizes = c.pgsize_bitmap()};
    for (const GroupModel& g : model->groups) {
      prediction.pgsizes_known = prediction.pgsizes_known && g.page_sizes.has_value();
    }
    GetInfoOptions info_options = GetInfoOptions::for_kernel(host.kernel);
    auto first = type1_get_info(c.info_state(), sizeof(VfioType1Info), info_options);
    if (first) {
      auto reply = type1_get_info(c.info_state(), first->argsz, info_options);
      if (reply) {
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
    for (uint32_t id : *ids) {
      const Group* g = host.find_group(id);
      if (!g->observed_regions) continue;
      for (const ReservedRegion& r : *g->observed_regions) reserved.push_back(r.range());
    }
    LiveType1Session live(*session);
    out << "VFIO type1, groups";
    for (const auto& g : options.groups) out << " " << g;
    out << (options.probe ? " (with MAP_DMA probes)" : "") << ":\n";
    auto report = verify_type1(live, prediction, reserved, options.probe);
    session = make_error(0, "closed");  // release the container before iommufd claims devices
    if (!report) return fail(report.error().message);
    report->print(out);
    ok = report->ok();
  }

  // iommufd, where the kernel has it.
  std::vector<std::string> cdevs = device_cdevs(**reader, host, *ids, options.dev_dir);
  if (::access((options.dev_dir + "/iommu").c_str(), F_OK) == 0 && !cdevs.empty()) {
    auto ioas_model = model_iommufd(host, *ids, Policy::kKernel);
    auto ioas = IommufdSession::open(options.dev_dir + "/iommu");
    if (!ioas) return fail(ioas.error().message);
    std::optional<Error> refused;
    for (const std::string& cdev : cdevs) {
      if (Status s = ioas->attach(cdev); !s) {
        if (!refused_attach(s.error())) return fail(s.error().message);
        refused = s.error();
        break;
      }
    }
    out << "iommufd IOAS:\n";
    bool model_refused = !ioas_model && ioas_model.error().code == EPERM;
    if (refused || model_refused) {
      ok = print_attach_verdict(
               out, refused,
               model_refused ? std::optional<Error>(ioas_model.error()) : std::nullopt) &&
           ok;
    } else {
      auto ranges = ioas->ranges();
      if (!ranges) return fail(ranges.error().message);
      if (!ioas_model) {
        out << "MISMATCH  IOAS attach\n    kernel: attached\n    model:  "
            << ioas_model.error().message << "\n";
        ok = false;
      } else {
        IovaRangesReply r = ioas_model->ioas.iova_ranges(~uint32_t{0});
        VerifyReport iommufd = verify_iommufd(*ranges, {r.ranges, r.alignment});
        iommufd.print(out);
        ok = ok && iommufd.ok();
      }
    }
  }
  out << (ok ? "verify: the kernel agrees with the model\n"
             : "verify: the kernel DISAGREES with the model (see MISMATCH above)\n");
  return ok ? 0 : 1;
}

}  // namespace iovamap
