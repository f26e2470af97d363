#include "iovamap/vfio_info.h"

#include <algorithm>
#include <bit>

namespace iovamap {
namespace {

constexpr uint32_t kInfoSize = sizeof(VfioType1Info);  // 24: where the kernel copies caps
constexpr uint32_t kMinArgsz = offsetof(VfioType1Info, cap_offset);  // 16: offsetofend pgsizes

uint64_t align8(uint64_t n) {
  return (n + 7) & ~uint64_t{7};
}

// A little-endian image of the bytes the kernel writes into the caller's buffer; it grows to
// the last byte written and leaves the rest zero (a zero-filled buffer).
class Image {
 public:
  void put(size_t offset, const std::vector<uint8_t>& data) {
    if (data.empty()) return;
    if (bytes_.size() < offset + data.size()) bytes_.resize(offset + data.size());
    std::copy(data.begin(), data.end(), bytes_.begin() + static_cast<ptrdiff_t>(offset));
  }
  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

void put_le(std::vector<uint8_t>& out, size_t offset, uint64_t value, int size) {
  if (out.size() < offset + static_cast<size_t>(size)) out.resize(offset + size);
  for (int i = 0; i < size; ++i) out[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

uint64_t get_le(const std::vector<uint8_t>& in, size_t offset, int size) {
  uint64_t v = 0;
  for (int i = 0; i < size; ++i) v |= uint64_t{in[offset + i]} << (8 * i);
  return v;
}

std::vector<uint8_t> header_bytes(uint16_t id, size_t size) {
  std::vector<uint8_t> b(size, 0);
  put_le(b, 0, id, 2);
  put_le(b, 2, 1, 2);  // every capability iovamap models is version 1
  return b;
}

std::vector<uint8_t> migration_cap(uint64_t pgsize_bitmap) {
  std::vector<uint8_t> b = header_bytes(kVfioCapMigration, sizeof(VfioCapMigration));
  // vfio_iommu_migration_build_caps: flags 0, the smallest page size only, the fixed maximum.
  put_le(b, offsetof(VfioCapMigration, pgsize_bitmap), smallest_page_size(pgsize_bitmap), 8);
  put_le(b, offsetof(VfioCapMigration, max_dirty_bitmap_size), kMaxDirtyBitmapSize, 8);
  return b;
}

std::vector<uint8_t> dma_avail_cap(uint32_t avail) {
  std::vector<uint8_t> b = header_bytes(kVfioCapDmaAvail, sizeof(VfioCapDmaAvail));
  put_le(b, offsetof(VfioCapDmaAvail, avail), avail, 4);
  return b;
}

std::vector<uint8_t> iova_range_cap(const std::vector<Range>& ranges) {
  std::vector<uint8_t> b =
      header_bytes(kVfioCapIovaRange, sizeof(VfioCapIovaRange) + 16 * ranges.size());
  put_le(b, offsetof(VfioCapIovaRange, nr_iovas), ranges.size(), 4);
  for (size_t i = 0; i < ranges.size(); ++i) {
    put_le(b, sizeof(VfioCapIovaRange) + 16 * i, ranges[i].first, 8);
    put_le(b, sizeof(VfioCapIovaRange) + 16 * i + 8, ranges[i].last, 8);
  }
  return b;
}

std::vector<uint8_t> info_bytes(uint32_t argsz, uint32_t flags, uint64_t pgsizes,
                                uint32_t cap_offset) {
  std::vector<uint8_t> b(kInfoSize, 0);
  put_le(b, offsetof(VfioType1Info, argsz), argsz, 4);
  put_le(b, offsetof(VfioType1Info, flags), flags, 4);
  put_le(b, offsetof(VfioType1Info, iova_pgsizes), pgsizes, 8);
  put_le(b, offsetof(VfioType1Info, cap_offset), cap_offset, 4);
  return b;
}

Error argsz_error(uint32_t argsz) {
  return make_refusal(EINVAL, "VFIO_IOMMU_GET_INFO: argsz " + std::to_string(argsz) +
                                  " is below the 16 bytes up to iova_pgsizes");
}

}  // namespace

GetInfoOptions GetInfoOptions::for_kernel(KernelVersion kernel) {
  GetInfoOptions o;
  o.layout = kernel >= KernelVersion{6, 6} ? CapLayout::kAligned : CapLayout::kPacked;
  o.iova_range_cap = kernel >= KernelVersion{5, 4};
  o.migration_cap = kernel >= KernelVersion{5, 8};
  o.dma_avail_cap = kernel >= KernelVersion{5, 10};
  o.migration_padding_leak = o.migration_cap && kernel < KernelVersion{6, 6};
  return o;
}

Result<GetInfoReply> type1_get_info(const Type1InfoState& state, uint32_t argsz,
                                    const GetInfoOptions& options) {
  // vfio_iommu_type1_get_info: the caller must pass at least up to iova_pgsizes.
  if (argsz < kMinArgsz) return argsz_error(argsz);
  bool aligned = options.layout == CapLayout::kAligned;
  // How much of the info struct is copied back: v6.6+ copies min(argsz, sizeof); before,
  // 20 bytes (up to cap_offset) when argsz reaches it, else 16.
  uint32_t copy = aligned ? std::min(argsz, kInfoSize) : (argsz >= 20 ? 20 : kMinArgsz);

  // Build the chain as vfio_info_cap_add does: each capability appended (padded to 8 bytes
  // since v6.6), the previous last one's `next` set to its offset within the chain.
  std::vector<uint8_t> caps;
  size_t last = 0;
  std::vector<Range> undefined;
  std::vector<Range> pgsize_bytes;  // in the chain, moved past the info struct below
  auto add = [&](std::vector<uint8_t> cap) {
    size_t offset = caps.size();
    size_t size = aligned ? align8(cap.size()) : cap.size();
    cap.resize(size, 0);
    caps.insert(caps.end(), cap.begin(), cap.end());
    if (offset != 0) put_le(caps, last + offsetof(VfioCapHeader, next), offset, 4);
    last = offset;
    return offset;
  };
  // Order of vfio_iommu_type1_get_info: migration, dma-avail, iova ranges (the last only when
  // the list is non-empty: an mdev-only container has none).
  if (options.migration_cap) {
    size_t at = add(migration_cap(state.pgsize_bitmap));
    uint64_t pgsizes = kInfoSize + at + offsetof(VfioCapMigration, pgsize_bitmap);
    pgsize_bytes.push_back(Range{pgsizes, pgsizes + 7});
    if (options.migration_padding_leak) {
      uint64_t pad = kInfoSize + at + offsetof(VfioCapMigration, flags) + 4;
      undefined.push_back(Range{pad, pad + 3});
    }
  }
  if (options.dma_avail_cap) add(dma_avail_cap(state.dma_avail));
  if (options.iova_range_cap && !state.iova_list.empty()) add(iova_range_cap(state.iova_list));

  GetInfoReply reply;
  reply.argsz = argsz;
  reply.flags = kVfioInfoPgsizes;
  Image image;
  if (!caps.empty()) {
    reply.flags |= kVfioInfoCaps;
    if (argsz < kInfoSize + caps.size()) {
      // Too small: report the size needed, copy no capability.
      reply.argsz = static_cast<uint32_t>(kInfoSize + caps.size());
      undefined.clear();
      pgsize_bytes.clear();
    } else {
      // vfio_info_cap_shift: make every non-zero `next` relative to the info struct.
      for (size_t at = 0;;) {
        uint64_t next = get_le(caps, at + offsetof(VfioCapHeader, next), 4);
        if (next == 0) break;
        put_le(caps, at + offsetof(VfioCapHeader, next), next + kInfoSize, 4);
        at = next;
      }
      image.put(kInfoSize, caps);
      reply.cap_offset = kInfoSize;
    }
  } else {
    undefined.clear();
    pgsize_bytes.clear();
  }
  std::vector<uint8_t> info =
      info_bytes(reply.argsz, reply.flags, state.pgsize_bitmap, reply.cap_offset);
  info.resize(copy);
  image.put(0, info);
  reply.bytes = image.take();
  reply.undefined = std::move(undefined);
  constexpr uint64_t kPgsizes = offsetof(VfioType1Info, iova_pgsizes);
  reply.pgsize_bytes.push_back(Range{kPgsizes, kPgsizes + 7});
  reply.pgsize_bytes.insert(reply.pgsize_bytes.end(), pgsize_bytes.begin(), pgsize_bytes.end());
  return reply;
}

Result<GetInfoReply> iommufd_compat_get_info(const CompatInfoState& state, uint32_t argsz,
                                             CapLayout layout) {
  if (argsz < kMinArgsz) return argsz_error(argsz);
  bool aligned = layout == CapLayout::kAligned;
  uint32_t copy = std::min(argsz, kInfoSize);
  Image image;
  GetInfoReply reply;

  // iommufd_vfio_iommu_get_info walks its fill functions (dma-avail, then iova ranges) with
  // the room left after `total`; each writes only what fits, and returns its full size.
  uint64_t total = kInfoSize;
  uint64_t last_cap = 0;
  bool have_last = false;
  auto room = [&]() -> uint64_t { return argsz > total ? argsz - total : 0; };

  for (int which = 0; which < 2; ++which) {
    uint64_t avail = room();
    uint64_t cap_size = 0;
    if (which == 0) {
      // iommufd_fill_cap_dma_avail: all 12 bytes or nothing.
      std::vector<uint8_t> cap = dma_avail_cap(state.dma_avail);
      if (avail >= cap.size()) image.put(total, cap);
      cap_size = cap.size();
    } else {
      // iommufd_fill_cap_iova: each range as long as it fits, the header only if all fit.
      std::vector<uint8_t> cap = iova_range_cap(state.ranges);
      size_t n = state.ranges.size();
      for (size_t i = 0; i < n; ++i) {
        uint64_t end = sizeof(VfioCapIovaRange) + 16 * (i + 1);
        if (avail >= end)
          image.put(total + end - 16,
                    std::vector<uint8_t>(cap.begin() + static_cast<ptrdiff_t>(end - 16),
                                         cap.begin() + static_cast<ptrdiff_t>(end)));
      }
      if (avail >= cap.size())
        image.put(total, std::vector<uint8_t>(cap.begin(), cap.begin() + sizeof(VfioCapIovaRange)));
      cap_size = cap.size();
    }
    if (aligned) cap_size = align8(cap_size);
    // The previous capability's `next` is written once the caller's buffer reaches this one.
    if (have_last && argsz >= total) {
      std::vector<uint8_t> next;
      put_le(next, 0, total, 4);
      image.put(last_cap + offsetof(VfioCapHeader, next), next);
    }
    last_cap = total;
    have_last = true;
    total += cap_size;
  }

  if (argsz >= total) reply.cap_offset = kInfoSize;
  reply.argsz = static_cast<uint32_t>(total);
  reply.flags = kVfioInfoPgsizes | kVfioInfoCaps;
  std::vector<uint8_t> info =
      info_bytes(reply.argsz, reply.flags, state.pgsize_bitmap, reply.cap_offset);
  info.resize(copy);
  image.put(0, info);
  // Before v6.6 the info struct was not cleared: its 4 tail bytes go out uninitialised.
  if (!aligned && copy > offsetof(VfioType1Info, pad))
    reply.undefined.push_back(Range{offsetof(VfioType1Info, pad), copy - 1u});
  reply.bytes = image.take();
  return reply;
}

Result<std::vector<Range>> parse_iova_ranges(const std::vector<uint8_t>& bytes) {
  auto bad = [](uint64_t offset, const std::string& what) {
    return make_error(EINVAL, "GET_INFO reply, byte " + std::to_string(offset) + ": " + what);
  };
  if (bytes.size() < kMinArgsz) return bad(0, "shorter than the 16-byte header");
  uint32_t flags = static_cast<uint32_t>(get_le(bytes, offsetof(VfioType1Info, flags), 4));
  if (!(flags & kVfioInfoCaps)) return make_error(ENOENT, "GET_INFO reply has no capabilities");
  if (bytes.size() < offsetof(VfioType1Info, pad))
    return bad(offsetof(VfioType1Info, cap_offset), "cap_offset is missing");
  uint64_t at = get_le(bytes, offsetof(VfioType1Info, cap_offset), 4);
  if (at == 0)
    return make_error(ENOENT, "GET_INFO reply: cap_offset is 0 (argsz too small for the caps)");
  // Each step must land on a new header inside the buffer; a chain longer than the buffer
  // could hold is a loop.
  for (size_t steps = 0; steps <= bytes.size() / sizeof(VfioCapHeader); ++steps) {
    if (at < kMinArgsz || at + sizeof(VfioCapHeader) > bytes.size())
      return bad(at, "capability header outside the reply");
    uint16_t id = static_cast<uint16_t>(get_le(bytes, at, 2));
    if (id == kVfioCapIovaRange) {
      if (at + sizeof(VfioCapIovaRange) > bytes.size()) return bad(at, "truncated iova-range cap");
      uint64_t n = get_le(bytes, at + offsetof(VfioCapIovaRange, nr_iovas), 4);
      if (at + sizeof(VfioCapIovaRange) + 16 * n > bytes.size())
        return bad(at, std::to_string(n) + " iova ranges do not fit in the reply");
      std::vector<Range> ranges;
      for (uint64_t i = 0; i < n; ++i) {
        uint64_t off = at + sizeof(VfioCapIovaRange) + 16 * i;
        uint64_t first = get_le(bytes, off, 8), last = get_le(bytes, off + 8, 8);
        if (first > last) return bad(off, "range start above its end");
        ranges.push_back(Range{first, last});
      }
      return ranges;
    }
    uint64_t next = get_le(bytes, at + offsetof(VfioCapHeader, next), 4);
    if (next == 0) return make_error(ENOENT, "GET_INFO reply has no iova-range capability");
    at = next;
  }
  return bad(at, "capability chain loops");
}

std::string to_sysfs_lines(const std::vector<Range>& ranges) {
  std::string out;
  for (const Range& r : ranges) out += to_sysfs_string(r) + "\n";
  return out;
}

}  // namespace iovamap
