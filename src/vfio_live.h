// The real VFIO type1 ioctl layer: ask a running kernel what a container of groups can map.
//
// `VfioType1Session` opens /dev/vfio/vfio and the given groups, attaches every group to one
// container, selects the TYPE1v2 IOMMU, reads VFIO_IOMMU_GET_INFO with argsz negotiation and
// parses the whole capability chain (`parse_type1_info`, usable on captured bytes too). With
// `probe_map` it tries a real VFIO_IOMMU_MAP_DMA of an anonymous buffer at an IOVA and unmaps
// it at once, returning the kernel's verdict as an errno value (0 = accepted).
//
// Example:
//   auto s = VfioType1Session::open({7, 8});
//   if (!s) return s.error();               // EACCES/ENOENT: no permission or no VFIO
//   auto info = s->get_info();              // ranges, page sizes, raw reply bytes
//   int verdict = *s->probe_map(0xfee00000, 0x1000);   // EINVAL: inside the MSI window
//
// Sharp edges:
//   - It never binds or unbinds drivers: the groups must already be bound to vfio-pci (or be
//     otherwise viable); a non-viable group fails `open` with EPERM and a message naming it.
//   - The destructor (also on every error path of `open`) unmaps anything still mapped,
//     detaches the groups and closes all descriptors; a session is move-only.
//   - The uAPI structs are our own (vfio_info.h and below) with static_asserts, because
//     Debian 12's headers predate some of them; they follow include/uapi/linux/vfio.h.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "iovamap/range.h"
#include "iovamap/result.h"
#include "iovamap/vfio_info.h"
#include "unique_fd.h"

namespace iovamap {

// VFIO uAPI (include/uapi/linux/vfio.h): the ioctl numbers and the structs vfio_info.h does
// not mirror, checked by static_asserts in vfio_live.cc. GET_INFO's structs and capability
// ids are vfio_info.h's (VfioType1Info, kVfioCap*).
namespace vfio_uapi {
inline constexpr int kApiVersion = 0;
inline constexpr unsigned long kType1v2Iommu = 3;
inline constexpr uint32_t kGroupFlagsViable = 1u << 0;
inline constexpr uint32_t kMapFlagRead = 1u << 0;
inline constexpr uint32_t kMapFlagWrite = 1u << 1;
inline constexpr uint32_t kUnmapFlagAll = 1u << 1;  // since 5.13

struct GroupStatus {
  uint32_t argsz;
  uint32_t flags;
};
struct DmaMap {  // struct vfio_iommu_type1_dma_map
  uint32_t argsz;
  uint32_t flags;
  uint64_t vaddr;
  uint64_t iova;
  uint64_t size;
};
struct DmaUnmap {  // struct vfio_iommu_type1_dma_unmap without the flexible data[]
  uint32_t argsz;
  uint32_t flags;
  uint64_t iova;
  uint64_t size;
};
// The ioctl numbers: every VFIO command is _IO(VFIO_TYPE ';', 100 + n), that is
// (';' << 8) | (100 + n) (vfio_live.cc checks this against the _IO macro).
constexpr unsigned long vfio_io(unsigned n) {
  return (static_cast<unsigned long>(';') << 8) | (100 + n);
}
inline constexpr unsigned long kGetApiVersion = vfio_io(0);
inline constexpr unsigned long kCheckExtension = vfio_io(1);
inline constexpr unsigned long kSetIommu = vfio_io(2);
inline constexpr unsigned long kGroupGetStatus = vfio_io(3);
inline constexpr unsigned long kGroupSetContainer = vfio_io(4);
inline constexpr unsigned long kGroupUnsetContainer = vfio_io(5);
inline constexpr unsigned long kIommuGetInfo = vfio_io(12);
inline constexpr unsigned long kIommuMapDma = vfio_io(13);
inline constexpr unsigned long kIommuUnmapDma = vfio_io(14);
}  // namespace vfio_uapi

// One entry of the capability chain, as found.
struct Type1Capability {
  uint16_t id = 0;
  uint16_t version = 0;
  uint32_t offset = 0;  // from the start of the reply
  friend bool operator==(const Type1Capability&, const Type1Capability&) = default;
};

// A parsed VFIO_IOMMU_GET_INFO reply.
struct Type1Info {
  uint32_t argsz = 0;  // what the kernel wrote back: the size the whole reply needs
  uint32_t flags = 0;
  uint64_t iova_pgsizes = 0;
  uint32_t cap_offset = 0;
  std::vector<Type1Capability> caps;  // chain order
  bool has_iova_ranges = false;       // capability 1 present (absent when the list is empty)
  std::vector<Range> iova_ranges;     // capability 1's ranges, ends inclusive
  std::optional<uint32_t> dma_avail;  // capability 3
  std::optional<uint64_t> migration_pgsizes;  // capability 2
  std::vector<uint8_t> raw;                   // the reply bytes, argsz long
};

// Parses a whole GET_INFO reply. Checks every offset against the buffer, refuses a chain that
// loops or goes backwards, and a range with start > end. EINVAL with the byte offset on bad
// input; never reads outside `reply`.
Result<Type1Info> parse_type1_info(std::span<const uint8_t> reply);

// Renders the ranges the way our fixtures and the lab store them: one "0x%016llx 0x%016llx"
// line per range (start, inclusive end).
std::string format_vfio_ranges(const std::vector<Range>& ranges);

// The type1 MAP_DMA verdict for one mapping into a container holding no mappings, with
// `ranges` its usable list and `pgsizes` its page-size bitmap (vfio_iommu_type1.c,
// vfio_dma_do_map: size, iova aligned to the smallest page size and no wrap, else EINVAL;
// vfio_iommu_iova_dma_valid: the whole mapping inside one node of the list, else EINVAL; an
// empty list accepts everything). Returns 0 or EINVAL.
int type1_map_verdict(const std::vector<Range>& ranges, uint64_t pgsizes, uint64_t iova,
                      uint64_t size);

// The IOVAs `iovamap verify --probe` tries, one `page` each, sorted and unique: for every
// range its first page, its last page, the page after it (unless it ends at 2^64-1) and the
// page before it (unless it starts at 0); for every reserved region the pages holding its first
// and last address. `page` must be a power of two.
std::vector<uint64_t> type1_probe_points(const std::vector<Range>& ranges,
                                         const std::vector<Range>& reserved, uint64_t page);

class VfioType1Session {
 public:
  // Opens `dev_dir`/vfio and `dev_dir`/<group> for each group, checks the API version, that
  // TYPE1v2 is supported and each group viable, attaches all groups to the container and sets
  // TYPE1v2. Errors: ENOENT (no VFIO or no such group), EACCES/EPERM (permission, not viable),
  // EINVAL (kernel refused the attach); the message names the group and the ioctl.
  static Result<VfioType1Session> open(const std::vector<uint32_t>& groups,
                                       const std::string& dev_dir = "/dev/vfio");

  // VFIO_IOMMU_GET_INFO twice: with the bare struct to learn argsz, then with that size.
  Result<Type1Info> get_info();

  // What one MAP_DMA probe found.
  struct Probe {
    int map_errno = 0;   // the kernel's verdict on MAP_DMA: 0 = accepted
    bool stuck = false;  // accepted, but no UNMAP_DMA could remove it (see probe_map)
  };
  // Maps [iova, iova + size - 1] from a fresh anonymous buffer (read/write) and, when the
  // kernel accepted, unmaps it at once.
  // Kernel quirk (seen on 6.1 and 6.12 in the lab): a mapping whose last byte is 2^64-1 cannot
  // be unmapped. vfio_iommu_type1.c, vfio_find_dma_first_node compares `start < iova + size`
  // of each mapping, and that sum wraps to 0, so neither an UNMAP_DMA of the exact range nor
  // VFIO_DMA_UNMAP_FLAG_ALL finds it; both report success with size 0. The mapping goes away
  // only when the container's IOMMU is torn down (the last group leaves), which the
  // destructor does. Such a probe reports `stuck`; probe the top page last.
  // An error only when the buffer cannot be had or UNMAP_DMA itself fails.
  Result<Probe> probe_map(uint64_t iova, uint64_t size);

  VfioType1Session(VfioType1Session&& other) noexcept;
  VfioType1Session& operator=(VfioType1Session&& other) noexcept;
  VfioType1Session(const VfioType1Session&) = delete;
  VfioType1Session& operator=(const VfioType1Session&) = delete;
  ~VfioType1Session();

 private:
  VfioType1Session() = default;
  void close_all();

  UniqueFd container_;
  std::vector<UniqueFd> group_fds_;                        // attached groups
  std::vector<uint32_t> groups_;                           // their numbers, for messages
  std::vector<std::pair<void*, uint64_t>> stuck_buffers_;  // pinned until close_all
};

}  // namespace iovamap
