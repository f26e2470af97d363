/* A DPDK-like userspace driver's start-up, through iovamap's C API: which IOVAs may device
 * DEVICE use in a VFIO type1 container, below its 40-bit DMA limit, and an IOVA allocator
 * over them for its rings and buffers.
 *
 *   cc dma_driver.c $(pkg-config --cflags --libs iovamap) -o dma_driver
 *   ./dma_driver /path/to/snapshot/root 01:00.0      (or / for this machine)
 *
 * Prints the usable ranges as `iovamap --root ROOT --dma-limit DEVICE=40 --format sysfs ranges
 * DEVICE` does, then the blocks it allocates and frees. Exit status 0, or 1 with the library's
 * message on stderr. */
#include <iovamap/iovamap.h>
#include <stdio.h>
#include <stdlib.h>

#define DMA_LIMIT 0xffffffffffULL /* 40 bits */

static int die(const char* what, int rc) {
  fprintf(stderr, "dma_driver: %s: error %d: %s\n", what, rc, iovamap_last_error());
  return 1;
}

int main(int argc, char** argv) {
  static const uint64_t sizes[] = {4096, 65536, 2u << 20, 1u << 30}; /* rings, buffers */
  struct iovamap_range blocks[4];
  struct iovamap_report_info info;
  struct iovamap_range* ranges;
  struct iovamap_allocator_stats stats;
  iovamap_host* host;
  iovamap_report* report;
  iovamap_allocator* alloc;
  char limit[128];
  const char* limits[1] = {limit};
  const char* devices[1];
  size_t n, i;
  int rc;

  if (argc != 3) {
    fprintf(stderr, "usage: dma_driver ROOT DEVICE   (ROOT: / or a snapshot directory)\n");
    return 2;
  }
  devices[0] = argv[2];
  snprintf(limit, sizeof limit, "%s=40", argv[2]);
  rc = iovamap_host_open(IOVAMAP_SOURCE_SNAPSHOT, argv[1], IOVAMAP_POLICY_EFFECTIVE, limits, 1,
                         &host);
  if (rc < 0) return die("open", rc);
  rc = iovamap_host_describe(host, IOVAMAP_RULES_TYPE1, devices, 1, NULL, 0, &report);
  if (rc < 0) return die("describe", rc);
  iovamap_host_close(host); /* the report owns its answer */
  if ((rc = iovamap_report_get_info(report, &info)) < 0) return die("info", rc);
  if (info.refusal_errno != 0) {
    fprintf(stderr, "dma_driver: VFIO would refuse: %s\n", info.refusal_message);
    return 1;
  }
  ranges = calloc(info.range_count, sizeof *ranges);
  if (!ranges) return 1;
  if ((rc = iovamap_report_ranges(report, ranges, info.range_count, &n)) < 0)
    return die("ranges", rc);
  for (i = 0; i < n; i++)
    printf("0x%016llx 0x%016llx\n", (unsigned long long)ranges[i].first,
           (unsigned long long)ranges[i].last);

  rc = iovamap_allocator_create(ranges, n, info.alignment, &alloc);
  free(ranges);
  if (rc < 0) return die("allocator", rc);
  for (i = 0; i < 4; i++) {
    if ((rc = iovamap_allocator_alloc(alloc, sizes[i], DMA_LIMIT, 0, &blocks[i])) < 0)
      return die("alloc", rc);
    printf("alloc 0x%llx bytes at 0x%016llx-0x%016llx\n", (unsigned long long)sizes[i],
           (unsigned long long)blocks[i].first, (unsigned long long)blocks[i].last);
  }
  for (i = 0; i < 4; i++)
    if ((rc = iovamap_allocator_free(alloc, &blocks[i])) < 0) return die("free", rc);
  if ((rc = iovamap_allocator_get_stats(alloc, &stats)) < 0) return die("stats", rc);
  printf("freed all: %llu live blocks, 0x%llx usable bytes\n", (unsigned long long)stats.live_count,
         (unsigned long long)stats.usable_bytes);
  iovamap_allocator_destroy(alloc);
  iovamap_report_destroy(report);
  return 0;
}
