/* iovamap's C API: the usable IOVA space of a VFIO container, and an allocator over it, for
 * C programs (DPDK, SPDK, QEMU, libvfn) and for bindgen (Rust VMMs).
 *
 * A thin layer over the C++ library (the headers in include/iovamap/): open a host (this machine, a
 * snapshot directory or a topology file) with a policy and declared DMA limits, list its IOMMU
 * groups and devices, find devices as lspci -s / -d name them, ask which IOVAs a container
 * holding some groups can map and what ends each usable range (type1 or iommufd rules), check
 * one mapping as VFIO_IOMMU_MAP_DMA would answer, and allocate IOVAs from the usable ranges.
 *
 * Example (error handling shortened; every call returns 0 or a negative errno value):
 *   const char *limits[] = {"01:00.0=40"};
 *   iovamap_host *host;
 *   if (iovamap_host_open(IOVAMAP_SOURCE_SNAPSHOT, "snap", IOVAMAP_POLICY_EFFECTIVE, limits, 1,
 *                         &host) < 0)
 *     fprintf(stderr, "%s\n", iovamap_last_error());
 *   const char *devices[] = {"01:00.0"};
 *   iovamap_report *report;
 *   iovamap_host_describe(host, IOVAMAP_RULES_TYPE1, devices, 1, NULL, 0, &report);
 *   struct iovamap_range ranges[64];
 *   size_t n;
 *   iovamap_report_ranges(report, ranges, 64, &n);
 *   iovamap_allocator *alloc;
 *   iovamap_allocator_create(ranges, n, 4096, &alloc);
 *   struct iovamap_range block;
 *   iovamap_allocator_alloc(alloc, 65536, 0xffffffffffULL, 0, &block);   // below 40 bits
 *   iovamap_allocator_free(alloc, &block);
 *   iovamap_allocator_destroy(alloc);
 *   iovamap_report_destroy(report);
 *   iovamap_host_close(host);
 *
 * Conventions:
 *   - Every function returning int returns 0 on success or a negative errno value: -EINVAL bad
 *     argument (a NULL out pointer, first > last, a limit of 0), -EBADF a handle that is NULL,
 *     destroyed, of another type or never made by this library, -ENOENT no such group or
 *     device, -ENOMEM out of memory or no fitting IOVA, -EBUSY a fixed IOVA in use, and the
 *     C++ library's errno otherwise. On failure out parameters are left unchanged and
 *     iovamap_last_error() says why.
 *   - Addresses are uint64_t; ranges are closed: [first, last], both inclusive. A limit is the
 *     highest address allowed (a DMA mask such as 0xffffffffff), never a size.
 *   - Handles are opaque values checked on every call (a type tag and a generation in a
 *     process-wide table), so a NULL, destroyed or foreign handle is an error, never a crash.
 *     Destroying a handle while another thread is using it is a caller bug (not detected).
 *   - Strings returned (const char *) are owned by the handle they came from and stay valid
 *     until it is destroyed, unless the function says otherwise. Strings passed in are copied
 *     or only read during the call.
 *   - Lists are filled as "out, cap, count": up to `cap` entries are written to `out` (which
 *     may be NULL when `cap` is 0) and `*count` receives the total, so a first call with cap 0
 *     sizes the array.
 *   - No function throws, prints or exits; C++ exceptions never cross this boundary.
 *
 * Sharp edges:
 *   - Parameters that take an enum's value are `int` (one of enum iovamap_source, _policy,
 *     _rules, _side), so that any value a caller passes is defined behaviour and an unknown one
 *     is -EINVAL; struct fields the library fills are of the enum types.
 *   - Handles need 64-bit pointers (the generation lives in the handle's upper bits).
 *   - iovamap_last_error() is per thread and is overwritten by the next failing call on that
 *     thread; successful calls leave it as it was.
 *   - At most 2^20 handles of all kinds can be live at once (-EMFILE beyond).
 */
#ifndef IOVAMAP_IOVAMAP_H
#define IOVAMAP_IOVAMAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- types ------------------------------------------------------------------------------ */

/* A host read once: its IOMMU groups, devices and units (C++: iovamap::LoadedHost). */
typedef struct iovamap_host iovamap_host;
/* The answer about one container: its usable ranges and what ends each (ContainerReport). */
typedef struct iovamap_report iovamap_report;
/* A modelled VFIO type1 container that checks mappings in order (MappingChecker). */
typedef struct iovamap_checker iovamap_checker;
/* An IOVA allocator over usable ranges (IovaAllocator). */
typedef struct iovamap_allocator iovamap_allocator;

/* Where a host comes from. */
enum iovamap_source {
  IOVAMAP_SOURCE_LIVE = 0,     /* this machine's /sys and /proc (path: the root, NULL = "/") */
  IOVAMAP_SOURCE_SNAPSHOT = 1, /* a directory holding sys/ and proc/ (iovamap snapshot) */
  IOVAMAP_SOURCE_TOPOLOGY = 2  /* a TOML topology file (docs/topology.md) */
};

/* Which reserved regions a group has (policy.h); EFFECTIVE is the truly usable space. */
enum iovamap_policy {
  IOVAMAP_POLICY_KERNEL = 0,
  IOVAMAP_POLICY_RFC = 1,
  IOVAMAP_POLICY_RFC_FIXED = 2,
  IOVAMAP_POLICY_EFFECTIVE = 3
};

/* Which container rules: a VFIO type1 container or an iommufd IOAS. */
enum iovamap_rules { IOVAMAP_RULES_TYPE1 = 0, IOVAMAP_RULES_IOMMUFD = 1 };

/* The kernel's enum iommu_resv_type (region.h). */
enum iovamap_region_type {
  IOVAMAP_REGION_DIRECT = 0,
  IOVAMAP_REGION_DIRECT_RELAXABLE = 1,
  IOVAMAP_REGION_RESERVED = 2,
  IOVAMAP_REGION_MSI = 3,
  IOVAMAP_REGION_SW_MSI = 4
};

/* What ends a usable range (container.h RangeStop::Kind). */
enum iovamap_stop_kind {
  IOVAMAP_STOP_APERTURE = 0,  /* outside a group's (or iommufd domain's) aperture */
  IOVAMAP_STOP_REGION = 1,    /* a reserved region */
  IOVAMAP_STOP_LIST_QUIRK = 2 /* type1 dropped a node the aperture starts or ends on */
};

/* Which side of a usable range a stop is on. */
enum iovamap_side { IOVAMAP_BELOW = 0, IOVAMAP_ABOVE = 1 };

/* A closed range of addresses, [first, last]. */
struct iovamap_range {
  uint64_t first;
  uint64_t last;
};

/* A device of the host. Strings belong to the host handle. */
struct iovamap_device {
  const char* name;   /* sysfs name: "0000:01:00.0", or a platform device's name */
  const char* driver; /* the bound driver, "" when none */
  uint32_t group_id;  /* its IOMMU group */
  int is_pci;         /* 1 for a PCI device */
  uint16_t vendor;    /* PCI ids (0 for platform devices) */
  uint16_t device_id;
  uint32_t class_code;        /* 24 bits: base class, subclass, prog-if */
  unsigned dma_mask_bits;     /* sysfs dma_mask_bits; 0 when unknown */
  unsigned declared_dma_bits; /* a declared DMA limit (--dma-limit, topology); 0 when none */
};

/* What a report says overall. Strings belong to the report handle. */
struct iovamap_report_info {
  enum iovamap_rules rules;
  enum iovamap_policy policy;
  uint64_t alignment;          /* type1: the smallest page size; iommufd: the alignment */
  size_t range_count;          /* usable ranges (0 when refused) */
  size_t warning_count;        /* iovamap_report_warning */
  int refusal_errno;           /* 0, or the kernel's errno for an attach it would refuse */
  const char* refusal_message; /* "" when not refused; else why, and what to do */
};

/* One usable range and how many stops end it on each side. */
struct iovamap_usable_range {
  struct iovamap_range range;
  size_t below_count; /* stops covering range.first - 1 (0 when first is 0) */
  size_t above_count; /* stops covering range.last + 1 (0 when last is 2^64-1) */
};

/* One thing that ends a usable range. Strings belong to the report handle. */
struct iovamap_stop {
  enum iovamap_stop_kind kind;
  uint32_t group_id;
  const char* device;         /* iommufd: the device the region belongs to; "" otherwise */
  struct iovamap_range range; /* the region, or the part outside the aperture */
  int region_type;            /* an iovamap_region_type for IOVAMAP_STOP_REGION, else -1 */
  const char* type_name;      /* "msi", "sw-msi", "reserved", ..., "aperture", "list-quirk" */
};

/* MAP_DMA's answer for one mapping. The string belongs to the checker handle and stays valid
 * until the next iovamap_checker_check on it. */
struct iovamap_verdict {
  int ok;             /* 1 when MAP_DMA would accept it (it is then recorded) */
  int refusal_errno;  /* 0, or the kernel's errno (EINVAL, EEXIST, ENOSPC, ...) */
  const char* reason; /* "" when accepted; else the regions met, with their provenance */
  int has_nearest;    /* 1 when `nearest` holds an aligned placement that works now */
  uint64_t nearest;
  int budget_spent; /* 1: the mapping budget (dma_entry_limit) is used up */
};

/* Allocator counters (iova_allocator.h AllocatorStats); every byte count fits 64 bits because
 * the granule holding IOVA 0 is never usable. */
struct iovamap_allocator_stats {
  uint64_t usable_bytes;
  uint64_t free_bytes;
  uint64_t cached_bytes;
  uint64_t live_count;
  uint64_t largest_free_block;
  uint64_t free_extents;
  uint64_t metadata_bytes;
};

/* ---- errors and version ----------------------------------------------------------------- */

/* The message of the last call that failed on this thread ("" when none did). The pointer
 * is thread-local: valid until the next failing iovamap call on this thread. Thread-safe. */
const char* iovamap_last_error(void);

/* The library's version, "MAJOR.MINOR.PATCH" (static storage). Thread-safe. */
const char* iovamap_version(void);

/* ---- hosts ------------------------------------------------------------------------------ */

/* Reads a host from `source` at `path` (LIVE: the root, NULL for "/"; SNAPSHOT: the
 * directory; TOPOLOGY: the file), models it under `policy`, and applies `dma_limit_count`
 * declared DMA limits "SELECTOR=BITS" ("01:00.0=40", "7=32", "8086:10d3=36"). On success
 * `*out` is a new handle the caller owns and closes with iovamap_host_close. Errors: -EINVAL
 * (NULL out, bad enum, NULL path for SNAPSHOT/TOPOLOGY, NULL limits with a count, a malformed
 * file or limit), -ENOENT (a file or a limit's device missing), others from reading the
 * system. Thread-safe (each call reads on its own). */
int iovamap_host_open(int source, const char* path, int policy, const char* const* dma_limits,
                      size_t dma_limit_count, iovamap_host** out);

/* Closes a host and frees what it owns (device strings included). Reports, checkers and
 * allocators made from it stay valid: they own their data. -EBADF when `host` is not a live
 * host handle. Must not race with other calls on the same handle. */
int iovamap_host_close(iovamap_host* host);

/* The host's IOMMU group numbers, ascending ("out, cap, count", see the file comment).
 * Thread-safe: a host handle is read-only after opening. */
int iovamap_host_groups(const iovamap_host* host, uint32_t* out, size_t cap, size_t* count);

/* The devices of group `group_id` in the kernel's group order ("out, cap, count"). -ENOENT
 * when the host has no such group. Thread-safe. */
int iovamap_host_group_devices(const iovamap_host* host, uint32_t group_id,
                               struct iovamap_device* out, size_t cap, size_t* count);

/* The PCI devices that match both filters, in group order: `slot` as lspci -s takes it
 * ("01:00.0", "00:1f", "0000:01:00.0"), `ids` as lspci -d takes it ("8086:10d3", "8086:",
 * "::0200"); either may be NULL (matches every PCI device). "out, cap, count"; a count of 0 is
 * not an error. -EINVAL for a malformed filter (iovamap_last_error says which field).
 * Thread-safe. */
int iovamap_host_find_devices(const iovamap_host* host, const char* slot, const char* ids,
                              struct iovamap_device* out, size_t cap, size_t* count);

/* The groups the selectors reach, as the tool's operands and -d filters do
 * (device_selection.h select_groups): `selectors` are group numbers or devices ("7",
 * "01:00.0"), `id_filters` are lspci -d filters; a device brings its whole group. "out, cap,
 * count", in the order first reached. -EINVAL when both lists are empty or an entry is
 * malformed, -ENOENT when one matches nothing. Thread-safe. */
int iovamap_host_select_groups(const iovamap_host* host, const char* const* selectors,
                               size_t selector_count, const char* const* id_filters,
                               size_t id_filter_count, uint32_t* out, size_t cap, size_t* count);

/* ---- containers ------------------------------------------------------------------------- */

/* Models one container holding the groups the selectors reach (as iovamap_host_select_groups,
 * in that attach order) under the host's policy and `rules`: `iovamap ranges`. On success
 * `*out` is a new report the caller owns (iovamap_report_destroy), independent of the host.
 * A refusal (the kernel would not attach: EPERM for MSIs not isolated, ...) is an answer, not
 * an error: it is in the report's info. Errors: bad selectors as iovamap_host_select_groups,
 * -EBADF, -EINVAL (NULL out, bad enum). Thread-safe. */
int iovamap_host_describe(const iovamap_host* host, int rules, const char* const* selectors,
                          size_t selector_count, const char* const* id_filters,
                          size_t id_filter_count, iovamap_report** out);

/* Frees a report. -EBADF when `report` is not a live report handle. Must not race with other
 * calls on the same handle. */
int iovamap_report_destroy(iovamap_report* report);

/* The report's summary. Thread-safe: a report is read-only. */
int iovamap_report_get_info(const iovamap_report* report, struct iovamap_report_info* out);

/* The usable ranges, ascending ("out, cap, count"), ready for iovamap_allocator_create.
 * Thread-safe. */
int iovamap_report_ranges(const iovamap_report* report, struct iovamap_range* out, size_t cap,
                          size_t* count);

/* Usable range `index` with its stop counts. -ERANGE when index >= range_count. Thread-safe. */
int iovamap_report_range(const iovamap_report* report, size_t index,
                         struct iovamap_usable_range* out);

/* Stop `stop_index` on `side` of usable range `range_index`: what ends it. -ERANGE for an
 * index out of bounds, -EINVAL for a bad side. Thread-safe. */
int iovamap_report_stop(const iovamap_report* report, size_t range_index, int side,
                        size_t stop_index, struct iovamap_stop* out);

/* Warning `index` (what the model could not know, RAM above the usable space). The string
 * belongs to the report. -ERANGE when index >= warning_count. Thread-safe. */
int iovamap_report_warning(const iovamap_report* report, size_t index, const char** out);

/* ---- checking mappings ------------------------------------------------------------------ */

/* A modelled VFIO type1 container holding the groups the selectors reach, under the host's
 * policy, that checks mappings in order (earlier accepted mappings count). On success `*out`
 * is a new checker the caller owns (iovamap_checker_destroy), independent of the host. Errors:
 * as iovamap_host_select_groups, or the kernel's errno when it would refuse the attach
 * (-EPERM: MSIs not isolated). Thread-safe with respect to the host. */
int iovamap_checker_create(const iovamap_host* host, const char* const* selectors,
                           size_t selector_count, iovamap_checker** out);

/* Frees a checker. -EBADF when it is not a live checker handle. */
int iovamap_checker_destroy(iovamap_checker* checker);

/* MAP_DMA of [iova, iova + size - 1] on the container as it is now; recorded when accepted.
 * Returns 0 with the verdict in `*out` whatever the verdict is (a size of 0 or one that passes
 * 2^64-1 is refused as the kernel refuses it, with EINVAL in the verdict); -EBADF, -EINVAL
 * (NULL out) otherwise. Not thread-safe: one thread at a time per checker. */
int iovamap_checker_check(iovamap_checker* checker, uint64_t iova, uint64_t size,
                          struct iovamap_verdict* out);

/* ---- the allocator ---------------------------------------------------------------------- */

/* An allocator over `range_count` usable ranges (overlapping or unsorted is fine; each
 * first <= last) with `granule` (a power of two, the smallest IOMMU page size) as the unit.
 * Ranges are shrunk to whole granules; IOVA 0's granule is never handed out. On success `*out`
 * is a new allocator the caller owns (iovamap_allocator_destroy); the ranges are copied.
 * -EINVAL: NULL ranges with a count, a range with first > last, a granule not a power of two,
 * no whole granule usable, NULL out. Thread-safe. */
int iovamap_allocator_create(const struct iovamap_range* ranges, size_t range_count,
                             uint64_t granule, iovamap_allocator** out);

/* Frees an allocator; live blocks are simply forgotten. -EBADF when it is not a live allocator
 * handle. Must not race with other calls on the same handle. */
int iovamap_allocator_destroy(iovamap_allocator* alloc);

/* Allocates `size` bytes (rounded up to whole granules, and below 32 granules to a power of
 * two: `*out` shows the real block) ending at or below `limit`, aligned to `alignment` (a
 * power of two; 0: the rounded size rounded up to a power of two), top-down. -EINVAL: size 0,
 * limit 0, a bad alignment, NULL out; -ENOMEM: no fit below the limit. Thread-safe: any number
 * of threads may allocate and free concurrently (per-thread caches, iova_allocator.h). */
int iovamap_allocator_alloc(iovamap_allocator* alloc, uint64_t size, uint64_t limit,
                            uint64_t alignment, struct iovamap_range* out);

/* Allocates exactly [iova, iova + size - 1] (size rounded up to whole granules). -EINVAL:
 * iova not granule-aligned, size 0, the range wraps or is not inside one usable range, NULL
 * out; -EBUSY: part of it is live. Thread-safe. */
int iovamap_allocator_alloc_at(iovamap_allocator* alloc, uint64_t iova, uint64_t size,
                               struct iovamap_range* out);

/* Returns a block exactly as alloc or alloc_at gave it. -EINVAL: NULL block, first > last, not
 * granule-aligned, not usable, or a double free the tree detects (one still in a cache is
 * not detected, as in the kernel). Thread-safe. */
int iovamap_allocator_free(iovamap_allocator* alloc, const struct iovamap_range* block);

/* The allocator's counters, exact when no other thread is operating. Thread-safe. */
int iovamap_allocator_get_stats(const iovamap_allocator* alloc,
                                struct iovamap_allocator_stats* out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* IOVAMAP_IOVAMAP_H */
