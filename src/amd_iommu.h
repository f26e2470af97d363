// Private: AMD-Vi rules that tests check directly, beyond the driver model's three answers
// (src/amd_iommu.cc; docs/kernel-rules.md, "AMD-Vi").
//
// Example:
//   detail::amd_generic_v1_page_sizes(4, {7, 3}) == 0x7f7ffffff000  // 4 KiB..64 TiB, no 512 GiB
//
// Sharp edges: the level count is taken as given (the model derives 4, 5 or 6 from EFR HATS),
// and the answer is the generic page table's, which kernels before 6.19 do not use.
#pragma once

#include <cstdint>

#include "iovamap/host.h"

namespace iovamap::detail {

// The VFIO page-size bitmap of a v1 paging domain of `levels` levels (3 to 6) built by the
// generic page table (Linux 6.19 and later), as `kernel` computes it; from 7.2 a non-zero
// `ivinfo_va_size` (the IVRS IVinfo VASize) caps the VA width.
uint64_t amd_generic_v1_page_sizes(unsigned levels, KernelVersion kernel,
                                   unsigned ivinfo_va_size = 0);

}  // namespace iovamap::detail
