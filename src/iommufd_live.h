// The real iommufd ioctl layer: ask a running kernel which IOVAs an IOAS allows.
//
// `IommufdSession` opens /dev/iommu and allocates one IOAS. `ranges()` reads
// IOMMU_IOAS_IOVA_RANGES (negotiating the array size) and the IOVA alignment. `attach` binds
// a VFIO device cdev (/dev/vfio/devices/vfioN) to the iommufd and attaches it to the IOAS, so
// the next `ranges()` shows the device's reservations and its domain's aperture.
//
// Example:
//   auto s = IommufdSession::open();
//   auto empty = s->ranges();                 // [0, 2^64-1], alignment 1
//   s->attach("/dev/vfio/devices/vfio0");
//   auto r = s->ranges();                     // the device's usable ranges, alignment 0x1000
//
// Sharp edges:
//   - It never binds drivers: the cdev exists only for a device already bound to vfio-pci,
//     on a kernel with CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV.
//   - The destructor detaches every attached device, closes the cdevs, destroys the IOAS and
//     closes /dev/iommu, also after an error; a session is move-only.
//   - The structs follow include/uapi/linux/iommufd.h and vfio.h, defined here (and the
//     IOVA_RANGES ones in vfio_info.h) with static_asserts: Debian 12's headers predate iommufd.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "iovamap/range.h"
#include "iovamap/result.h"
#include "iovamap/vfio_info.h"
#include "unique_fd.h"

namespace iovamap {

namespace iommufd_uapi {
struct IoasAlloc {  // struct iommu_ioas_alloc
  uint32_t size;
  uint32_t flags;
  uint32_t out_ioas_id;
};
struct Destroy {  // struct iommu_destroy
  uint32_t size;
  uint32_t id;
};
struct BindIommufd {  // struct vfio_device_bind_iommufd
  uint32_t argsz;
  uint32_t flags;
  int32_t iommufd;
  uint32_t out_devid;
};
struct AttachPt {  // struct vfio_device_attach_iommufd_pt
  uint32_t argsz;
  uint32_t flags;
  uint32_t pt_id;
};
struct DetachPt {  // struct vfio_device_detach_iommufd_pt
  uint32_t argsz;
  uint32_t flags;
};
unsigned long destroy();
unsigned long ioas_alloc();
unsigned long ioas_iova_ranges();
unsigned long device_bind_iommufd();
unsigned long device_attach_pt();
unsigned long device_detach_pt();
}  // namespace iommufd_uapi

// What IOMMU_IOAS_IOVA_RANGES reported.
struct IoasRanges {
  std::vector<Range> ranges;
  uint64_t alignment = 0;
};

class IommufdSession {
 public:
  // Opens `dev_iommu` and allocates an IOAS. ENOENT when the kernel has no iommufd, EACCES
  // without permission; the message names the file.
  static Result<IommufdSession> open(const std::string& dev_iommu = "/dev/iommu");

  // Binds the VFIO device cdev at `cdev_path` to this iommufd and attaches it to the IOAS.
  // On failure nothing stays bound or attached.
  Status attach(const std::string& cdev_path);

  // IOMMU_IOAS_IOVA_RANGES of the IOAS: asks once with no room to learn the count (the kernel
  // answers EMSGSIZE with num_iovas set), then with room; retries if the count grew.
  Result<IoasRanges> ranges();

  uint32_t ioas_id() const { return ioas_id_; }

  IommufdSession(IommufdSession&& other) noexcept;
  IommufdSession& operator=(IommufdSession&& other) noexcept;
  IommufdSession(const IommufdSession&) = delete;
  IommufdSession& operator=(const IommufdSession&) = delete;
  ~IommufdSession();

 private:
  IommufdSession() = default;
  void close_all();

  UniqueFd fd_;
  uint32_t ioas_id_ = 0;
  bool have_ioas_ = false;
  std::vector<UniqueFd> devices_;  // attached device cdevs
};

}  // namespace iovamap
