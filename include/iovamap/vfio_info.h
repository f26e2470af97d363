// The bytes of VFIO_IOMMU_GET_INFO, and the uAPI structures VFIO and iommufd exchange.
//
// A program that asks the kernel which IOVAs a VFIO container accepts calls
// VFIO_IOMMU_GET_INFO with a buffer of `argsz` bytes; the kernel fills a fixed header
// (`vfio_iommu_type1_info`) and, when it fits, a chain of capabilities behind it (migration,
// dma-avail, iova ranges). This file reproduces that reply byte for byte, so the lab can compare
// what a real kernel copied out with what iovamap predicts, and so the CLI can show it.
//
// The structures below mirror include/uapi/linux/vfio.h and include/uapi/linux/iommufd.h for
// the x86_64/arm64 (LP64) ABI under names of our own; their sizes and offsets are pinned with
// static_assert. We never include <linux/vfio.h>: Debian 12's headers predate iommufd.
//
// Example:
//   Type1InfoState state{.pgsize_bitmap = 0x40201000, .dma_avail = 65535,
//                        .iova_list = {{0, 0xfedfffff}, {0xfef00000, 0x7fffffffff}}};
//   auto reply = type1_get_info(state, 24, GetInfoOptions::for_kernel({6, 12}));
//   reply->argsz;   // 120: call again with this size to get the capability chain
//   auto full = type1_get_info(state, reply->argsz, GetInfoOptions::for_kernel({6, 12}));
//   parse_iova_ranges(full->bytes);   // the two ranges above
//
// Sharp edges:
//   - `GetInfoReply::bytes` is what a zero-filled buffer holds after the call, cut after the
//     last byte the kernel wrote. The kernel leaves every other byte as the caller had it.
//   - Some kernels copy out bytes they never initialised (stack contents): those byte ranges
//     are listed in `GetInfoReply::undefined`; compare real replies with them masked.
//   - The layout change ("vfio: align capability structures", v6.6) and the caps a kernel
//     emits are options, not derived from the container: `GetInfoOptions::for_kernel` gives
//     mainline's defaults; distribution kernels may have backported pieces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "iovamap/host.h"
#include "iovamap/range.h"
#include "iovamap/result.h"

namespace iovamap {

// ---- uAPI mirrors (LP64) -------------------------------------------------------------------

// vfio.h: struct vfio_info_cap_header. `next` is an offset from the start of the info struct,
// 0 on the last capability.
struct VfioCapHeader {
  uint16_t id;
  uint16_t version;
  uint32_t next;
};

// vfio.h: struct vfio_iommu_type1_info. `pad` was named in v6.6; before it the same 4 bytes
// were the struct's tail padding (sizeof is 24 either way on LP64).
struct VfioType1Info {
  uint32_t argsz;
  uint32_t flags;
  uint64_t iova_pgsizes;
  uint32_t cap_offset;
  uint32_t pad;
};
inline constexpr uint32_t kVfioInfoPgsizes = 1u << 0;  // VFIO_IOMMU_INFO_PGSIZES
inline constexpr uint32_t kVfioInfoCaps = 1u << 1;     // VFIO_IOMMU_INFO_CAPS

// vfio.h: struct vfio_iova_range; `end` is inclusive.
struct VfioIovaRange {
  uint64_t start;
  uint64_t end;
};

// vfio.h: struct vfio_iommu_type1_info_cap_iova_range (id 1, version 1), followed by
// `nr_iovas` VfioIovaRange.
struct VfioCapIovaRange {
  VfioCapHeader header;
  uint32_t nr_iovas;
  uint32_t reserved;
};
inline constexpr uint16_t kVfioCapIovaRange = 1;

// vfio.h: struct vfio_iommu_type1_info_cap_migration (id 2, version 1). 4 bytes of padding
// follow `flags`.
struct VfioCapMigration {
  VfioCapHeader header;
  uint32_t flags;
  uint64_t pgsize_bitmap;
  uint64_t max_dirty_bitmap_size;
};
inline constexpr uint16_t kVfioCapMigration = 2;

// vfio.h: struct vfio_iommu_type1_info_dma_avail (id 3, version 1).
struct VfioCapDmaAvail {
  VfioCapHeader header;
  uint32_t avail;
};
inline constexpr uint16_t kVfioCapDmaAvail = 3;

// iommufd.h: struct iommu_iova_range; `last` is inclusive.
struct IommuIovaRange {
  uint64_t start;
  uint64_t last;
};

// iommufd.h: struct iommu_ioas_iova_ranges (IOMMU_IOAS_IOVA_RANGES).
struct IommuIoasIovaRanges {
  uint32_t size;
  uint32_t ioas_id;
  uint32_t num_iovas;
  uint32_t reserved;
  uint64_t allowed_iovas;  // user pointer to IommuIovaRange[num_iovas]
  uint64_t out_iova_alignment;
};

// iommufd.h: struct iommu_ioas_allow_iovas (IOMMU_IOAS_ALLOW_IOVAS).
struct IommuIoasAllowIovas {
  uint32_t size;
  uint32_t ioas_id;
  uint32_t num_iovas;
  uint32_t reserved;
  uint64_t allowed_iovas;
};

static_assert(sizeof(VfioCapHeader) == 8 && offsetof(VfioCapHeader, next) == 4);
static_assert(sizeof(VfioType1Info) == 24);
static_assert(offsetof(VfioType1Info, flags) == 4 && offsetof(VfioType1Info, iova_pgsizes) == 8 &&
              offsetof(VfioType1Info, cap_offset) == 16 && offsetof(VfioType1Info, pad) == 20);
static_assert(sizeof(VfioIovaRange) == 16);
static_assert(sizeof(VfioCapIovaRange) == 16 && offsetof(VfioCapIovaRange, nr_iovas) == 8 &&
              offsetof(VfioCapIovaRange, reserved) == 12);
static_assert(sizeof(VfioCapMigration) == 32 && offsetof(VfioCapMigration, flags) == 8 &&
              offsetof(VfioCapMigration, pgsize_bitmap) == 16 &&
              offsetof(VfioCapMigration, max_dirty_bitmap_size) == 24);
static_assert(sizeof(VfioCapDmaAvail) == 12 && offsetof(VfioCapDmaAvail, avail) == 8);
static_assert(sizeof(IommuIovaRange) == 16);
static_assert(sizeof(IommuIoasIovaRanges) == 32 && offsetof(IommuIoasIovaRanges, num_iovas) == 8 &&
              offsetof(IommuIoasIovaRanges, allowed_iovas) == 16 &&
              offsetof(IommuIoasIovaRanges, out_iova_alignment) == 24);
static_assert(sizeof(IommuIoasAllowIovas) == 24 &&
              offsetof(IommuIoasAllowIovas, allowed_iovas) == 16);

// The host page size of the kernels iovamap models (x86_64, arm64 with 4 KiB pages).
inline constexpr uint64_t kPageSize = 4096;
// The smallest page size of a page-size bitmap (the kernel's 1 << __ffs(bitmap)), 0 when the
// bitmap is empty: the unit VFIO MAP_DMA and iommufd align to.
constexpr uint64_t smallest_page_size(uint64_t bitmap) {
  return bitmap & (~bitmap + 1);
}
static_assert(smallest_page_size(0x40201000) == 0x1000 && smallest_page_size(0) == 0);

// vfio_iommu_type1.c DIRTY_BITMAP_SIZE_MAX: INT_MAX bits rounded up to u64s, in bytes (256 MiB).
inline constexpr uint64_t kMaxDirtyBitmapSize = 0x10000000;

// ---- GET_INFO replies ----------------------------------------------------------------------

enum class CapLayout : uint8_t {
  kPacked,   // before v6.6: each capability directly after the previous one
  kAligned,  // v6.6 and later: each capability padded with zeros to a multiple of 8 bytes
};

struct GetInfoOptions {
  CapLayout layout = CapLayout::kAligned;
  bool migration_cap = true;   // v5.8+
  bool dma_avail_cap = true;   // v5.10+ (and some stable kernels)
  bool iova_range_cap = true;  // v5.4+
  // Before v6.6 the migration capability was built on the stack without clearing it, so its
  // 4 padding bytes after `flags` carried stack contents (fixed by "vfio/type1: fix
  // cap_migration information leak"). When true those bytes are listed as undefined.
  bool migration_padding_leak = false;

  // Mainline's behaviour for `kernel` (see each field).
  static GetInfoOptions for_kernel(KernelVersion kernel);
};

// What VFIO_IOMMU_GET_INFO reports about a type1 container.
struct Type1InfoState {
  uint64_t pgsize_bitmap = 0;
  uint32_t dma_avail = 65535;
  std::vector<Range> iova_list;  // the container's list, node for node
};

struct GetInfoReply {
  uint32_t argsz = 0;  // the argsz field the caller reads back
  uint32_t flags = 0;
  uint32_t cap_offset = 0;       // 0 when no capability was copied
  std::vector<uint8_t> bytes;    // see the file comment
  std::vector<Range> undefined;  // byte offsets (inclusive) whose content the kernel leaks
  // Byte offsets (inclusive) that hold a page-size bitmap: iova_pgsizes and the migration
  // capability's pgsize_bitmap. Where the model does not know the page sizes, these bytes are
  // a guess and a caller must not present them as the kernel's.
  std::vector<Range> pgsize_bytes;
};

// The reply of vfio_iommu_type1_get_info (drivers/vfio/vfio_iommu_type1.c) to a caller that
// passes `argsz`. EINVAL when argsz < 16 (the kernel's minimum, offsetofend iova_pgsizes).
Result<GetInfoReply> type1_get_info(const Type1InfoState& state, uint32_t argsz,
                                    const GetInfoOptions& options);

// What iommufd's VFIO compatibility layer reports (drivers/iommu/iommufd/vfio_compat.c,
// iommufd_vfio_iommu_get_info): no migration cap, dma-avail (`dma_avail`, U32_MAX in current
// kernels) then the IOAS's iova ranges, each written only where it fits.
struct CompatInfoState {
  uint64_t pgsize_bitmap = 0;  // IoasModel::compat_pgsizes()
  uint32_t dma_avail = 0xffffffff;
  std::vector<Range> ranges;  // the IOAS's allowed holes (IoasModel::iova_ranges)
};
// `layout` kPacked models v6.2-6.5 (no padding; the info struct is copied uninitialised past
// `cap_offset`, reported in `undefined`), kAligned v6.6+. EINVAL when argsz < 16.
Result<GetInfoReply> iommufd_compat_get_info(const CompatInfoState& state, uint32_t argsz,
                                             CapLayout layout);

// Reads the iova-range capability out of a GET_INFO reply (real or modelled): follows
// cap_offset and the `next` chain with bounds checks. ENOENT when there is no such capability,
// EINVAL (with the byte offset) when the chain is malformed or truncated.
Result<std::vector<Range>> parse_iova_ranges(const std::vector<uint8_t>& bytes);

// "0x%016llx 0x%016llx\n" per range: the format of expected/vfio_ranges.* golden files.
std::string to_sysfs_lines(const std::vector<Range>& ranges);

}  // namespace iovamap
