// Reserved regions and the kernel's list of them.
//
// A reserved region is IOVA space a device must not (or may only partly) use: an MSI doorbell
// window, a firmware-mandated direct mapping (Intel RMRR, AMD IVMD, ARM RMR), a hole such as
// AMD's HyperTransport range. The kernel keeps them per group in a list built by inserting each
// device's regions one by one; `RegionList` reproduces that insertion exactly, quirks included:
//
//   - sorted by start, then by type value; a new entry goes before equal (start, type) entries;
//   - after an insertion only entries of the inserted type are merged, each with the last kept
//     entry of that type when it starts at or before that entry's end + 1 (so adjacent regions
//     of one type merge, and regions of different types never merge and may overlap);
//   - the overflow quirk: when a kept entry ends at 2^64-1, end + 1 wraps to 0 and a later
//     entry of the same type that starts inside it is not merged (both lines show in sysfs);
//   - a merge that spans all 2^64 addresses stores a length of 0 (the 64-bit length wraps).
//
// `MergeRule::kNoOverflowQuirk` is the same insertion with the overflow quirk fixed (the 2020
// RFC's patch 1/3); iovamap's `effective` policy uses it.
//
// Example:
//   RegionList list;
//   list.insert(ReservedRegion::make({0xfee00000, 0xfeefffff}, RegionType::kMsi));
//   list.to_sysfs();   // "0x00000000fee00000 0x00000000feefffff msi\n"
//
// Sharp edge: sysfs prints MSI and SW_MSI both as "msi", so a list parsed back from sysfs
// cannot tell them apart; `parse_sysfs_regions` returns kMsi for both.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/range.h"
#include "iovamap/result.h"

namespace iovamap {

// The kernel's enum iommu_resv_type, with its values: the order decides sorting.
enum class RegionType : uint8_t {
  kDirect = 0,           // identity-mapped for the device; never usable by VFIO
  kDirectRelaxable = 1,  // identity-mapped, but may be given up (USB, GPU RMRRs; ISA floppy)
  kReserved = 2,         // must not be mapped
  kMsi = 3,              // hardware MSI doorbell window (x86 0xfee00000)
  kSwMsi = 4,            // software-managed MSI window (ARM, virtio-iommu)
};

// The string the kernel prints in reserved_regions: "direct", "direct-relaxable", "reserved",
// "msi" (for kMsi and kSwMsi alike).
std::string_view sysfs_name(RegionType type);
// Our unambiguous name: like sysfs_name, but kSwMsi is "sw-msi".
std::string_view type_name(RegionType type);
// Parses a sysfs or iovamap type name ("msi" -> kMsi, "sw-msi" -> kSwMsi); EINVAL otherwise.
Result<RegionType> parse_region_type(std::string_view name);

// Where a region (or a limit) comes from, so that every answer can say why.
enum class Origin : uint8_t {
  kDriver,    // the IOMMU driver's own window (MSI, SW_MSI, HyperTransport hole)
  kFirmware,  // a firmware table: RMRR, IVMD, IORT RMR, device tree, virtio PROBE
  kAperture,  // outside what the IOMMU domain can translate
  kDmaLimit,  // above what a device can address
  kObserved,  // read from a running kernel (sysfs) without a better explanation
  kUser,      // declared by the user (topology file, command line)
};
std::string_view origin_name(Origin origin);

struct Provenance {
  Origin origin = Origin::kDriver;
  std::string detail;  // e.g. "intel-iommu MSI window", "device 0000:01:00.0: 40-bit (declared)"
  std::string device;  // the device it concerns, when one does (a DMA limit's), else ""
  friend bool operator==(const Provenance&, const Provenance&) = default;
};

// "driver: intel-iommu MSI window; dma-limit: device 0000:01:00.0: 36-bit (declared)": every
// entry as "origin: detail" (or the origin alone), joined by "; ".
std::string provenance_text(const std::vector<Provenance>& provenance);

// One region as the kernel stores it: start and a 64-bit length. `length` is 0 only after a
// merge that spans all 2^64 addresses (the kernel's wrap); `last()` wraps the same way, so it
// is 2^64-1 for such a region, as the kernel computes it.
struct ReservedRegion {
  uint64_t start = 0;
  uint64_t length = 0;
  RegionType type = RegionType::kReserved;
  std::vector<Provenance> provenance;  // every source merged into this region, in order

  // A region covering `range`. A range of all 2^64 addresses gets the wrapped length 0.
  static ReservedRegion make(const Range& range, RegionType type, Provenance provenance = {});

  uint64_t last() const { return start + length - 1; }
  // The closed range the kernel means: [start, last()].
  Range range() const { return Range{start, last()}; }

  // Equality ignores provenance: two regions are the same to the kernel.
  bool same_as(const ReservedRegion& other) const {
    return start == other.start && length == other.length && type == other.type;
  }
};

enum class MergeRule : uint8_t {
  kKernel,           // the kernel's iommu_insert_resv_region, overflow quirk included
  kNoOverflowQuirk,  // the same, but an entry ending at 2^64-1 absorbs later ones inside it
};

// A group's (or a device's) reserved regions, in the kernel's order.
//
// Complexity: insert is O(log n) plus the entries it merges (the kernel's pass is O(n); see
// insert in region.cc for why both give the same list); regions() builds the list in O(n) the
// first time after an insert. A region merged from more than 64 distinct sources lists 64 and
// says that more exist.
// Thread-safety: like a standard container, except that the first regions() after an insert
// builds the list; call it once before sharing a list between threads (model_group does).
class RegionList {
 public:
  explicit RegionList(MergeRule rule = MergeRule::kKernel) : rule_(rule) {}

  // Inserts one region as the kernel does (see the file comment).
  void insert(const ReservedRegion& region);
  // Inserts each region of `regions` in order.
  void insert_all(const std::vector<ReservedRegion>& regions);

  // The list, sorted by (start, type). The reference stays valid until the next insert.
  const std::vector<ReservedRegion>& regions() const;
  bool empty() const;
  MergeRule rule() const { return rule_; }

  // The text of sysfs reserved_regions: "0x%016llx 0x%016llx %s\n" per region.
  std::string to_sysfs() const;

 private:
  static constexpr size_t kRegionTypes = 5;
  // Per type (indexed by RegionType's value), the entries by start; equal starts in the order
  // the kernel keeps them (the newer first).
  std::array<std::multimap<uint64_t, ReservedRegion>, kRegionTypes> by_type_;
  mutable std::shared_ptr<const std::vector<ReservedRegion>> flat_;  // regions(), built lazily
  MergeRule rule_;
};

// The text sysfs would print for these regions, in this order.
std::string to_sysfs(const std::vector<ReservedRegion>& regions);

// Parses the text of a reserved_regions file. `file_name` names the file in errors, which
// also carry the 1-based line: "FILE:LINE: ...". Each line must be exactly
// "0x<16 hex> 0x<16 hex> <type>"; the end must not be below the start. An empty text is an
// empty list. Regions come back with Origin::kObserved.
Result<std::vector<ReservedRegion>> parse_sysfs_regions(std::string_view text,
                                                        const std::string& file_name);

}  // namespace iovamap
