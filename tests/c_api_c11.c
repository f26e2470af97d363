/* The C API from C: include/iovamap/iovamap.h compiled as C11 with -Wall -Wextra -Werror
 * -pedantic (CMakeLists.txt), then run by ctest on a snapshot root (argv[1]): opens it, finds
 * 01:00.0, asks for its usable ranges and allocates from them. Exit status 0 when every call
 * answers as expected; prints the failing step otherwise. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "iovamap/iovamap.h"

static int failed(const char* step, int rc) {
  fprintf(stderr, "c_api_c11: %s: %d (%s)\n", step, rc, iovamap_last_error());
  return 1;
}

int main(int argc, char** argv) {
  const char* limits[] = {"01:00.0=40"};
  const char* devices[] = {"01:00.0"};
  iovamap_host* host = NULL;
  iovamap_report* report = NULL;
  iovamap_allocator* alloc = NULL;
  struct iovamap_device found[2];
  struct iovamap_report_info info;
  struct iovamap_range ranges[16];
  struct iovamap_range block;
  struct iovamap_allocator_stats stats;
  size_t n = 0;
  int rc;

  if (argc != 2) return failed("usage: c_api_c11 SNAPSHOT_ROOT", -EINVAL);
  rc = iovamap_host_open(IOVAMAP_SOURCE_SNAPSHOT, argv[1], IOVAMAP_POLICY_EFFECTIVE, limits, 1,
                         &host);
  if (rc < 0) return failed("iovamap_host_open", rc);
  rc = iovamap_host_find_devices(host, "01:00.0", NULL, found, 2, &n);
  if (rc < 0 || n != 1 || strcmp(found[0].name, "0000:01:00.0") != 0)
    return failed("iovamap_host_find_devices", rc);
  rc = iovamap_host_describe(host, IOVAMAP_RULES_TYPE1, devices, 1, NULL, 0, &report);
  if (rc < 0) return failed("iovamap_host_describe", rc);
  rc = iovamap_report_get_info(report, &info);
  if (rc < 0 || info.refusal_errno != 0) return failed("iovamap_report_get_info", rc);
  rc = iovamap_report_ranges(report, ranges, 16, &n);
  if (rc < 0 || n == 0 || n > 16) return failed("iovamap_report_ranges", rc);
  rc = iovamap_allocator_create(ranges, n, info.alignment, &alloc);
  if (rc < 0) return failed("iovamap_allocator_create", rc);
  rc = iovamap_allocator_alloc(alloc, 1u << 20, 0xffffffffffULL, 0, &block);
  if (rc < 0 || block.last > 0xffffffffffULL) return failed("iovamap_allocator_alloc", rc);
  rc = iovamap_allocator_free(alloc, &block);
  if (rc < 0) return failed("iovamap_allocator_free", rc);
  rc = iovamap_allocator_get_stats(alloc, &stats);
  if (rc < 0 || stats.live_count != 0) return failed("iovamap_allocator_get_stats", rc);
  if (iovamap_allocator_alloc(alloc, 4096, 0, 0, &block) != -EINVAL)
    return failed("a limit of 0", -EINVAL);
  if (iovamap_allocator_destroy(alloc) < 0 || iovamap_allocator_destroy(alloc) != -EBADF)
    return failed("iovamap_allocator_destroy", -EBADF);
  if (iovamap_report_destroy(report) < 0) return failed("iovamap_report_destroy", -EBADF);
  if (iovamap_host_close(host) < 0) return failed("iovamap_host_close", -EBADF);
  return 0;
}
