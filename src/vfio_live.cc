#include "vfio_live.h"

#include <fcntl.h>
#include <linux/ioctl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <utility>

namespace iovamap {
namespace vfio_uapi {
static_assert(sizeof(GroupStatus) == 8);
static_assert(sizeof(DmaMap) == 32 && offsetof(DmaMap, vaddr) == 8 &&
              offsetof(DmaMap, iova) == 16 && offsetof(DmaMap, size) == 24);
static_assert(sizeof(DmaUnmap) == 24 && offsetof(DmaUnmap, iova) == 8 &&
              offsetof(DmaUnmap, size) == 16);
static_assert(_IO(';', 100) == 0x3b64, "VFIO_GET_API_VERSION");
static_assert(_IO(';', 112) == 0x3b70, "VFIO_IOMMU_GET_INFO");
static_assert(kGetApiVersion == _IO(';', 100) && kIommuGetInfo == _IO(';', 112) &&
              kIommuUnmapDma == _IO(';', 114));
}  // namespace vfio_uapi

namespace {

template <class T>
bool read_at(std::span<const uint8_t> b, size_t offset, T* out) {
  if (offset > b.size() || b.size() - offset < sizeof(T)) return false;
  std::memcpy(out, b.data() + offset, sizeof(T));
  return true;
}

Error bad_reply(size_t offset, const std::string& what) {
  return make_error(EINVAL,
                    "VFIO_IOMMU_GET_INFO reply, byte " + std::to_string(offset) + ": " + what);
}

std::string errno_text(int e) {
  return std::string(std::strerror(e));
}

}  // namespace

Result<Type1Info> parse_type1_info(std::span<const uint8_t> reply) {
  // Layout: struct vfio_iommu_type1_info, then the capability chain; each capability header
  // is {u16 id, u16 version, u32 next}, `next` counted from the start of the reply, 0 ends.
  // (vfio_iommu_type1.c, vfio_iommu_type1_get_info and vfio_info_add_capability.)
  Type1Info info;
  // The kernel requires only up to cap_offset (20 bytes); we take what is there.
  if (reply.size() < 20) return bad_reply(0, "shorter than the 20-byte header");
  read_at(reply, 0, &info.argsz);
  read_at(reply, 4, &info.flags);
  read_at(reply, 8, &info.iova_pgsizes);
  read_at(reply, 16, &info.cap_offset);
  info.raw.assign(reply.begin(), reply.end());
  if (!(info.flags & kVfioInfoCaps) || info.cap_offset == 0) return info;
  size_t at = info.cap_offset;
  size_t min_next = 20;
  while (at != 0) {
    if (at < min_next) return bad_reply(at, "capability chain goes backwards or loops");
    uint16_t id = 0, version = 0;
    uint32_t next = 0;
    if (!read_at(reply, at, &id) || !read_at(reply, at + 2, &version) ||
        !read_at(reply, at + 4, &next)) {
      return bad_reply(at, "capability header past the end");
    }
    info.caps.push_back({id, version, static_cast<uint32_t>(at)});
    if (id == kVfioCapIovaRange) {
      uint32_t count = 0;
      if (!read_at(reply, at + 8, &count)) return bad_reply(at + 8, "iova range count past end");
      if (reply.size() < at + 16) return bad_reply(at + 8, "iova ranges past the end");
      if ((reply.size() - (at + 16)) / 16 < count) {
        return bad_reply(at + 8, std::to_string(count) + " iova ranges do not fit");
      }
      info.has_iova_ranges = true;
      for (uint32_t i = 0; i < count; ++i) {
        uint64_t start = 0, end = 0;
        read_at(reply, at + 16 + 16 * size_t{i}, &start);
        read_at(reply, at + 24 + 16 * size_t{i}, &end);
        if (start > end) return bad_reply(at + 16 + 16 * size_t{i}, "iova range start > end");
        info.iova_ranges.push_back({start, end});
      }
    } else if (id == kVfioCapDmaAvail) {
      uint32_t avail = 0;
      if (!read_at(reply, at + 8, &avail)) return bad_reply(at + 8, "dma_avail past the end");
      info.dma_avail = avail;
    } else if (id == kVfioCapMigration) {
      // {header; u32 flags; (pad); u64 pgsize_bitmap; u64 max_dirty_bitmap_size}
      uint64_t pgsizes = 0;
      if (!read_at(reply, at + 16, &pgsizes)) return bad_reply(at + 16, "migration past end");
      info.migration_pgsizes = pgsizes;
    }
    min_next = at + 8;
    at = next;
  }
  return info;
}

std::string format_vfio_ranges(const std::vector<Range>& ranges) {
  std::string out;
  for (const Range& r : ranges) out += to_sysfs_string(r) + "\n";
  return out;
}

int type1_map_verdict(const std::vector<Range>& ranges, uint64_t pgsizes, uint64_t iova,
                      uint64_t size) {
  // vfio_dma_do_map: the smallest supported page size is the alignment unit.
  uint64_t unit = smallest_page_size(pgsizes);
  if (unit == 0) return EINVAL;
  uint64_t mask = unit - 1;
  if (size == 0 || (size & mask) || (iova & mask)) return EINVAL;
  if (iova + size - 1 < iova) return EINVAL;  // wraps
  if (ranges.empty()) return 0;               // mdev-only container: no list, no check
  Range want{iova, iova + size - 1};
  for (const Range& r : ranges) {
    if (r.contains(want)) return 0;
  }
  return EINVAL;
}

std::vector<uint64_t> type1_probe_points(const std::vector<Range>& ranges,
                                         const std::vector<Range>& reserved, uint64_t page) {
  std::vector<uint64_t> points;
  uint64_t mask = page - 1;
  for (const Range& r : ranges) {
    uint64_t first = r.first & ~mask;
    uint64_t last = r.last & ~mask;
    points.push_back(first);
    points.push_back(last);
    if (r.last != kMaxAddress) points.push_back((r.last + 1) & ~mask);
    if (first >= page) points.push_back(first - page);
  }
  for (const Range& r : reserved) {
    points.push_back(r.first & ~mask);
    points.push_back(r.last & ~mask);
  }
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  return points;
}

Result<VfioType1Session> VfioType1Session::open(const std::vector<uint32_t>& groups,
                                                const std::string& dev_dir) {
  if (groups.empty()) return make_error(EINVAL, "no VFIO group given");
  VfioType1Session s;  // its destructor cleans up on every early return below
  std::string path = dev_dir + "/vfio";
  s.container_.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!s.container_) {
    int e = errno;
    return make_system_error(
        e, path + ": " + errno_text(e) + (e == ENOENT ? " (is the vfio module loaded?)" : ""));
  }
  long api = ::ioctl(s.container_.get(), vfio_uapi::kGetApiVersion);
  if (api != vfio_uapi::kApiVersion) {
    return make_system_error(EINVAL,
                             path + ": VFIO API version " + std::to_string(api) + ", want 0");
  }
  if (::ioctl(s.container_.get(), vfio_uapi::kCheckExtension, vfio_uapi::kType1v2Iommu) <= 0) {
    return make_system_error(ENODEV, path + ": the kernel has no VFIO TYPE1v2 IOMMU");
  }
  for (uint32_t group : groups) {
    const std::string g = std::to_string(group);
    std::string gpath = dev_dir + "/" + g;
    UniqueFd fd(::open(gpath.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd) {
      int e = errno;
      return make_system_error(e,
                               "group " + g + ": " + gpath + ": " + errno_text(e) +
                                   (e == ENOENT ? " (is a device of it bound to vfio-pci?)" : ""));
    }
    vfio_uapi::GroupStatus status{sizeof(status), 0};
    if (::ioctl(fd.get(), vfio_uapi::kGroupGetStatus, &status) != 0) {
      int e = errno;
      return make_system_error(e, "group " + g + ": VFIO_GROUP_GET_STATUS: " + errno_text(e));
    }
    if (!(status.flags & vfio_uapi::kGroupFlagsViable)) {
      return make_system_error(EPERM,
                               "group " + g +
                                   ": not viable (every device in it must be bound to vfio-pci "
                                   "or unbound)");
    }
    int container = s.container_.get();
    if (::ioctl(fd.get(), vfio_uapi::kGroupSetContainer, &container) != 0) {
      int e = errno;
      return make_refusal(e, "group " + g + ": VFIO_GROUP_SET_CONTAINER: " + errno_text(e));
    }
    s.group_fds_.push_back(std::move(fd));
    s.groups_.push_back(group);
    // The IOMMU type is set once, after the first group joined (vfio_container.c,
    // vfio_ioctl_set_iommu needs a group); later groups attach to the live container.
    if (s.group_fds_.size() == 1 &&
        ::ioctl(s.container_.get(), vfio_uapi::kSetIommu, vfio_uapi::kType1v2Iommu) != 0) {
      int e = errno;
      return make_refusal(e, "group " + g + ": VFIO_SET_IOMMU(TYPE1v2): " + errno_text(e));
    }
  }
  return s;
}

Result<Type1Info> VfioType1Session::get_info() {
  VfioType1Info head{};
  head.argsz = sizeof(head);
  if (::ioctl(container_.get(), vfio_uapi::kIommuGetInfo, &head) != 0) {
    int e = errno;
    return make_system_error(e, "VFIO_IOMMU_GET_INFO: " + errno_text(e));
  }
  uint32_t need = std::max<uint32_t>(head.argsz, sizeof(head));
  std::vector<uint8_t> buf(need, 0);
  VfioType1Info second{};
  second.argsz = need;
  std::memcpy(buf.data(), &second, sizeof(second));
  if (::ioctl(container_.get(), vfio_uapi::kIommuGetInfo, buf.data()) != 0) {
    int e = errno;
    return make_system_error(
        e, "VFIO_IOMMU_GET_INFO (argsz " + std::to_string(need) + "): " + errno_text(e));
  }
  return parse_type1_info(buf);
}

Result<VfioType1Session::Probe> VfioType1Session::probe_map(uint64_t iova, uint64_t size) {
  void* buf = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) {
    int e = errno;
    return make_system_error(e, "mmap of a " + std::to_string(size) + "-byte probe buffer failed");
  }
  std::memset(buf, 0, size);  // fault the pages in; VFIO pins them
  vfio_uapi::DmaMap map{sizeof(map), vfio_uapi::kMapFlagRead | vfio_uapi::kMapFlagWrite,
                        reinterpret_cast<uint64_t>(buf), iova, size};
  Probe probe;
  if (::ioctl(container_.get(), vfio_uapi::kIommuMapDma, &map) != 0) probe.map_errno = errno;
  Result<Probe> out = probe;
  if (probe.map_errno == 0) {
    vfio_uapi::DmaUnmap unmap{sizeof(unmap), 0, iova, size};
    int rc = ::ioctl(container_.get(), vfio_uapi::kIommuUnmapDma, &unmap);
    int e = rc != 0 ? errno : 0;
    if (rc == 0 && unmap.size != size) {
      vfio_uapi::DmaUnmap all{sizeof(all), vfio_uapi::kUnmapFlagAll, 0, 0};
      rc = ::ioctl(container_.get(), vfio_uapi::kIommuUnmapDma, &all);
      e = rc != 0 ? errno : 0;
      if (rc == 0 && all.size != size) {
        // Still mapped: keep the buffer until the container is torn down.
        stuck_buffers_.emplace_back(buf, size);
        return Probe{0, true};
      }
    }
    if (e != 0) {
      out = make_system_error(e, "VFIO_IOMMU_UNMAP_DMA of " +
                                     to_string(Range{iova, iova + size - 1}) +
                                     " failed: " + errno_text(e));
    }
  }
  ::munmap(buf, size);
  return out;
}

VfioType1Session::VfioType1Session(VfioType1Session&& other) noexcept
    : container_(std::move(other.container_)),
      group_fds_(std::exchange(other.group_fds_, {})),
      groups_(std::exchange(other.groups_, {})),
      stuck_buffers_(std::exchange(other.stuck_buffers_, {})) {}

VfioType1Session& VfioType1Session::operator=(VfioType1Session&& other) noexcept {
  if (this != &other) {
    close_all();
    container_ = std::move(other.container_);
    group_fds_ = std::exchange(other.group_fds_, {});
    groups_ = std::exchange(other.groups_, {});
    stuck_buffers_ = std::exchange(other.stuck_buffers_, {});
  }
  return *this;
}

VfioType1Session::~VfioType1Session() {
  close_all();
}

void VfioType1Session::close_all() {
  // Detaching the last group releases the container's IOMMU and with it every mapping
  // (vfio_container.c, __vfio_group_unset_container); closing does the same, we do it
  // explicitly so nothing depends on descriptor lifetime elsewhere.
  for (auto it = group_fds_.rbegin(); it != group_fds_.rend(); ++it) {
    ::ioctl(it->get(), vfio_uapi::kGroupUnsetContainer);
    it->reset();
  }
  group_fds_.clear();
  groups_.clear();
  container_.reset();
  for (auto [buf, size] : stuck_buffers_) ::munmap(buf, size);  // unpinned by the teardown
  stuck_buffers_.clear();
}

}  // namespace iovamap
