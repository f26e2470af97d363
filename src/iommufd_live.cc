#include "iommufd_live.h"

#include <fcntl.h>
#include <linux/ioctl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <utility>

namespace iovamap {
namespace iommufd_uapi {
// include/uapi/linux/iommufd.h: IOMMUFD_TYPE is ';', commands start at 0x80 (DESTROY), then
// IOAS_ALLOC 0x81, ALLOW_IOVAS 0x82, COPY 0x83, IOVA_RANGES 0x84. The VFIO device cdev
// commands are in vfio.h at VFIO_BASE (100) + 18, 19, 20.
unsigned long destroy() {
  return _IO(';', 0x80);
}
unsigned long ioas_alloc() {
  return _IO(';', 0x81);
}
unsigned long ioas_iova_ranges() {
  return _IO(';', 0x84);
}
unsigned long device_bind_iommufd() {
  return _IO(';', 100 + 18);
}
unsigned long device_attach_pt() {
  return _IO(';', 100 + 19);
}
unsigned long device_detach_pt() {
  return _IO(';', 100 + 20);
}

static_assert(sizeof(IoasAlloc) == 12);
static_assert(sizeof(Destroy) == 8);
static_assert(sizeof(BindIommufd) == 16 && offsetof(BindIommufd, out_devid) == 12);
static_assert(sizeof(AttachPt) == 12);
static_assert(sizeof(DetachPt) == 8);
}  // namespace iommufd_uapi

namespace {
std::string errno_text(int e) {
  return std::string(std::strerror(e));
}
}  // namespace

Result<IommufdSession> IommufdSession::open(const std::string& dev_iommu) {
  IommufdSession s;
  s.fd_.reset(::open(dev_iommu.c_str(), O_RDWR | O_CLOEXEC));
  if (!s.fd_) {
    int e = errno;
    return make_system_error(
        e, dev_iommu + ": " + errno_text(e) + (e == ENOENT ? " (the kernel has no iommufd)" : ""));
  }
  iommufd_uapi::IoasAlloc alloc{sizeof(alloc), 0, 0};
  if (::ioctl(s.fd_.get(), iommufd_uapi::ioas_alloc(), &alloc) != 0) {
    int e = errno;
    return make_system_error(e, dev_iommu + ": IOMMU_IOAS_ALLOC: " + errno_text(e));
  }
  s.ioas_id_ = alloc.out_ioas_id;
  s.have_ioas_ = true;
  return s;
}

Status IommufdSession::attach(const std::string& cdev_path) {
  UniqueFd dev(::open(cdev_path.c_str(), O_RDWR | O_CLOEXEC));
  if (!dev) {
    int e = errno;
    return make_system_error(e, cdev_path + ": " + errno_text(e));
  }
  iommufd_uapi::BindIommufd bind{sizeof(bind), 0, fd_.get(), 0};
  if (::ioctl(dev.get(), iommufd_uapi::device_bind_iommufd(), &bind) != 0) {
    int e = errno;  // closing an unbound cdev (as `dev` goes) leaves nothing behind
    return make_refusal(e, cdev_path + ": VFIO_DEVICE_BIND_IOMMUFD: " + errno_text(e));
  }
  iommufd_uapi::AttachPt attach{sizeof(attach), 0, ioas_id_};
  if (::ioctl(dev.get(), iommufd_uapi::device_attach_pt(), &attach) != 0) {
    int e = errno;  // closing a bound cdev unbinds it (vfio_device_fops_release)
    return make_refusal(e, cdev_path + ": VFIO_DEVICE_ATTACH_IOMMUFD_PT: " + errno_text(e));
  }
  devices_.push_back(std::move(dev));
  return {};
}

Result<IoasRanges> IommufdSession::ranges() {
  // iommufd/ioas.c, iommufd_ioas_iova_ranges: fills what fits, always writes the full count,
  // and fails with EMSGSIZE when the array was too short.
  std::vector<IommuIovaRange> buf;
  for (int attempt = 0; attempt < 4; ++attempt) {
    IommuIoasIovaRanges cmd{};
    cmd.size = sizeof(cmd);
    cmd.ioas_id = ioas_id_;
    cmd.num_iovas = static_cast<uint32_t>(buf.size());
    cmd.allowed_iovas = reinterpret_cast<uint64_t>(buf.data());
    if (::ioctl(fd_.get(), iommufd_uapi::ioas_iova_ranges(), &cmd) == 0) {
      IoasRanges out;
      out.alignment = cmd.out_iova_alignment;
      for (uint32_t i = 0; i < cmd.num_iovas && i < buf.size(); ++i) {
        out.ranges.push_back({buf[i].start, buf[i].last});
      }
      return out;
    }
    int e = errno;
    if (e != EMSGSIZE) return make_system_error(e, "IOMMU_IOAS_IOVA_RANGES: " + errno_text(e));
    buf.assign(cmd.num_iovas, {});
  }
  return make_system_error(EAGAIN, "IOMMU_IOAS_IOVA_RANGES: the range count kept changing");
}

IommufdSession::IommufdSession(IommufdSession&& other) noexcept
    : fd_(std::move(other.fd_)),
      ioas_id_(other.ioas_id_),
      have_ioas_(std::exchange(other.have_ioas_, false)),
      devices_(std::exchange(other.devices_, {})) {}

IommufdSession& IommufdSession::operator=(IommufdSession&& other) noexcept {
  if (this != &other) {
    close_all();
    fd_ = std::move(other.fd_);
    ioas_id_ = other.ioas_id_;
    have_ioas_ = std::exchange(other.have_ioas_, false);
    devices_ = std::exchange(other.devices_, {});
  }
  return *this;
}

IommufdSession::~IommufdSession() {
  close_all();
}

void IommufdSession::close_all() {
  for (UniqueFd& dev : devices_) {
    iommufd_uapi::DetachPt detach{sizeof(detach), 0};
    ::ioctl(dev.get(), iommufd_uapi::device_detach_pt(), &detach);
    dev.reset();
  }
  devices_.clear();
  if (fd_ && have_ioas_) {
    iommufd_uapi::Destroy d{sizeof(d), ioas_id_};
    ::ioctl(fd_.get(), iommufd_uapi::destroy(), &d);
  }
  have_ioas_ = false;
  fd_.reset();
}

}  // namespace iovamap
