// Private: the comparisons of `verify` (verify.h), one container at a time.
//
// The live side is behind small interfaces (`LiveType1`) implemented by the real ioctl layer
// (vfio_live.h) and by fakes in tests; the model side is a plain prediction (`Type1Prediction`,
// `IommufdPrediction`) that verify_host fills from the model for the same groups. Every
// comparison keeps both sides, so that a mismatch can be shown as "kernel: ... / model: ...".
//
// Example:
//   auto live = VfioType1Session::open({7});
//   LiveType1Session adapter(*live);
//   Type1Prediction model{.ranges = ..., .iova_pgsizes = 0x40201000};
//   Result<VerifySection> s = verify_type1(adapter, model, reserved_ranges, /*probe=*/true);
//   s->ok();
//
// Sharp edges:
//   - `probe` maps one page at each boundary for real (see VfioType1Session::probe_map);
//     a page mapped at 2^64-1 stays mapped until the session closes (a kernel quirk).
//   - Reply bytes are compared only when the prediction carries them (`reply`), because their
//     layout depends on the kernel version (packed before 6.6, 8-byte-aligned from 6.6).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "iommufd_live.h"
#include "iovamap/range.h"
#include "iovamap/result.h"
#include "iovamap/verify.h"
#include "vfio_live.h"

namespace iovamap {

// The live type1 operations verify needs.
class LiveType1 {
 public:
  virtual ~LiveType1() = default;
  virtual Result<Type1Info> get_info() = 0;
  virtual Result<VfioType1Session::Probe> probe_map(uint64_t iova, uint64_t size) = 0;
};

// Adapts a real session.
class LiveType1Session : public LiveType1 {
 public:
  explicit LiveType1Session(VfioType1Session& session) : session_(session) {}
  Result<Type1Info> get_info() override { return session_.get_info(); }
  Result<VfioType1Session::Probe> probe_map(uint64_t iova, uint64_t size) override {
    return session_.probe_map(iova, size);
  }

 private:
  VfioType1Session& session_;
};

// What the model predicts for one container holding the given groups.
struct Type1Prediction {
  std::vector<Range> ranges;                  // the usable list (capability 1)
  uint64_t iova_pgsizes = 0;                  // the page-size bitmap
  std::optional<std::vector<uint8_t>> reply;  // the whole GET_INFO reply, when modelled
  std::vector<Range> reply_undefined;         // byte offsets of `reply` the kernel leaves undefined
  // The model's MAP_DMA verdict (0 or an errno) for one mapping into the empty container;
  // when empty, type1_map_verdict on `ranges` and `iova_pgsizes`.
  std::function<int(uint64_t iova, uint64_t size)> map_verdict;
  // False when the model does not know the page sizes (virtio-iommu: not in sysfs): the
  // iova_pgsizes check is skipped and the page-size bytes of the reply are not compared.
  bool pgsizes_known = true;
};

// What the model predicts for one IOAS with the given devices attached.
struct IommufdPrediction {
  std::vector<Range> ranges;
  uint64_t alignment = 0;
};

// Compares the container's GET_INFO reply with `model` (ranges, page sizes, and the reply bytes
// outside `reply_undefined` when the model has them); with `probe`, maps one page (the
// smallest page size) at every point of type1_probe_points(kernel ranges, reserved) and
// compares the kernel's MAP_DMA verdict with the model's (`map_verdict`). An error only when the
// kernel could not be asked (GET_INFO or an unmap failed).
Result<VerifySection> verify_type1(LiveType1& live, const Type1Prediction& model,
                                   const std::vector<Range>& reserved, bool probe);

// Compares an IOAS's IOVA ranges and alignment with `model`.
VerifySection verify_iommufd(const IoasRanges& kernel, const IommufdPrediction& model);

}  // namespace iovamap
