// What `iovamap list` shows, as a value: every IOMMU unit with its paging-domain aperture and
// page sizes, every group with its devices, their DMA limits and sources, and MSI isolation.
//
// Example:
//   Result<LoadedHost> loaded = load_host({.source = HostSource::kSnapshot, .path = "snap"});
//   HostSummary s = summarize_host(*loaded);
//   for (const GroupSummary& g : s.groups)
//     for (const DeviceSummary& d : g.devices) d.limit.bits;   // e.g. 40 (known device)
//
// Sharp edge: the summary points into the LoadedHost it was made from, which must outlive it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "iovamap/dma_limit.h"
#include "iovamap/host.h"
#include "iovamap/host_loader.h"
#include "iovamap/iommu_driver.h"
#include "iovamap/msi.h"

namespace iovamap {

struct UnitSummary {
  const IommuUnit* unit = nullptr;
  std::optional<Aperture> aperture;    // empty when it cannot be derived (see `problem`)
  std::optional<uint64_t> page_sizes;  // empty when it cannot be derived
  std::optional<std::string> problem;  // why the aperture is unknown
};

struct DeviceSummary {
  const Device* device = nullptr;
  DmaLimit limit;
};

struct GroupSummary {
  const Group* group = nullptr;
  const IommuUnit* iommu = nullptr;  // the unit its devices sit behind, nullptr when unknown
  MsiVerdict msi;
  std::vector<DeviceSummary> devices;
};

struct HostSummary {
  std::vector<UnitSummary> units;    // in host order
  std::vector<GroupSummary> groups;  // in host order (by id)
  MsiVerdict msi;                    // the host's own answer, which a group without its own
                                     // evidence takes
  // The loader's notes, then each unit's problem ("dmar0: ..."), in order.
  std::vector<std::string> notes;
};

// Computes each unit's aperture and page sizes once, each device's DMA limit and each group's
// MSI verdict. Never fails: what cannot be derived is empty with the reason in `notes`.
HostSummary summarize_host(const LoadedHost& loaded);

}  // namespace iovamap
