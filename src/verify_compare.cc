#include "verify_compare.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace iovamap {
namespace {

std::string verdict_text(int e) {
  if (e == 0) return "accepted";
  return "rejected (" + errno_name(e) + ")";
}

std::string bytes_text(const std::vector<uint8_t>& bytes) {
  std::string out;
  char b[4];
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::snprintf(b, sizeof b, "%02x", bytes[i]);
    out += (i == 0 ? "" : (i % 16 == 0 ? "\n      " : " ")) + std::string(b);
  }
  return out;
}

std::string page_text(uint64_t iova) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%016" PRIx64, iova);
  return b;
}

}  // namespace

bool VerifySection::ok() const {
  for (const Check& c : checks)
    if (!c.ok && !c.skipped) return false;
  return true;
}

bool VerifyReport::ok() const {
  for (const VerifySection& s : sections)
    if (!s.ok()) return false;
  return true;
}

Result<VerifySection> verify_type1(LiveType1& live, const Type1Prediction& model,
                                   const std::vector<Range>& reserved, bool probe) {
  IOVAMAP_ASSIGN_OR_RETURN(Type1Info info, live.get_info());
  VerifySection report;
  report.checks.push_back({"VFIO IOVA ranges", to_string(info.iova_ranges), to_string(model.ranges),
                           info.iova_ranges == model.ranges});
  if (model.pgsizes_known) {
    report.checks.push_back({"iova_pgsizes", hex(info.iova_pgsizes), hex(model.iova_pgsizes),
                             info.iova_pgsizes == model.iova_pgsizes});
  } else {
    report.checks.push_back(
        {"iova_pgsizes", hex(info.iova_pgsizes), "unknown (not in sysfs)", false, true});
  }
  if (model.reply) {
    std::vector<uint8_t> seen = info.raw;  // undefined bytes taken from the model
    std::vector<Range> undefined = model.reply_undefined;
    if (!model.pgsizes_known) {
      // iova_pgsizes in the header, and the migration capability's pgsize_bitmap.
      undefined.push_back({8, 15});
      for (const Type1Capability& cap : info.caps) {
        if (cap.id == kVfioCapMigration) undefined.push_back({cap.offset + 16u, cap.offset + 23u});
      }
    }
    for (const Range& u : undefined) {
      for (uint64_t i = u.first; i <= u.last && i < seen.size() && i < model.reply->size(); ++i) {
        seen[i] = (*model.reply)[i];
      }
    }
    report.checks.push_back({"GET_INFO reply bytes", bytes_text(info.raw), bytes_text(*model.reply),
                             seen == *model.reply});
  }
  if (!probe) return report;
  uint64_t page = smallest_page_size(info.iova_pgsizes);
  if (page == 0) {
    return make_system_error(EINVAL, "the kernel reported no IOMMU page size: cannot probe");
  }
  // Ascending order puts a page at 2^64-1, which cannot be unmapped, last.
  for (uint64_t iova : type1_probe_points(info.iova_ranges, reserved, page)) {
    IOVAMAP_ASSIGN_OR_RETURN(VfioType1Session::Probe got, live.probe_map(iova, page));
    int want = model.map_verdict ? model.map_verdict(iova, page)
                                 : type1_map_verdict(model.ranges, model.iova_pgsizes, iova, page);
    report.checks.push_back(Check{.what = "MAP_DMA " + page_text(iova),
                                  .kernel = verdict_text(got.map_errno),
                                  .model = verdict_text(want),
                                  .ok = got.map_errno == want,
                                  .kernel_errno = got.map_errno,
                                  .model_errno = want});
  }
  return report;
}

VerifySection verify_iommufd(const IoasRanges& kernel, const IommufdPrediction& model) {
  VerifySection report;
  report.checks.push_back({"IOAS IOVA ranges", to_string(kernel.ranges), to_string(model.ranges),
                           kernel.ranges == model.ranges});
  report.checks.push_back({"IOAS IOVA alignment", hex(kernel.alignment), hex(model.alignment),
                           kernel.alignment == model.alignment});
  return report;
}

}  // namespace iovamap
