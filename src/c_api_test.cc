// The C API (include/iovamap/iovamap.h) as a C program calls it: answers equal to the C++
// library's on a real snapshot, and every bad argument (NULL, a destroyed or foreign handle,
// overflowing ranges, a limit of 0) an error code with a message, never a crash (CI runs this
// under ASan and UBSan).
#include "iovamap/iovamap.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "iovamap/container.h"
#include "iovamap/host_loader.h"
#include "iovamap/version.h"

namespace iovamap {
namespace {

const std::string kSnapshot = std::string(IOVAMAP_TEST_DATA) + "/snapshots/6.12-intel39/root";

iovamap_host* open_snapshot(const char* limit = nullptr,
                            iovamap_policy policy = IOVAMAP_POLICY_EFFECTIVE) {
  iovamap_host* host = nullptr;
  const char* limits[] = {limit};
  int rc = iovamap_host_open(IOVAMAP_SOURCE_SNAPSHOT, kSnapshot.c_str(), policy,
                             limit ? limits : nullptr, limit ? 1 : 0, &host);
  EXPECT_EQ(rc, 0) << iovamap_last_error();
  return host;
}

// A handle value the library never made: the C API must refuse it without reading it.
template <class H>
H* forged(uintptr_t value) {
  return reinterpret_cast<H*>(value);
}

TEST(CApi, Version) {
  EXPECT_EQ(std::string(iovamap_version()), std::string(version()));
}

TEST(CApi, GroupsAndDevicesOfASnapshot) {
  iovamap_host* host = open_snapshot();
  ASSERT_NE(host, nullptr);
  size_t n = 0;
  ASSERT_EQ(iovamap_host_groups(host, nullptr, 0, &n), 0);
  EXPECT_EQ(n, 9u);
  std::vector<uint32_t> ids(n);
  ASSERT_EQ(iovamap_host_groups(host, ids.data(), ids.size(), &n), 0);
  EXPECT_EQ(ids, (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  // A cap below the count fills what fits and still says how many there are.
  uint32_t first_two[2] = {99, 99};
  ASSERT_EQ(iovamap_host_groups(host, first_two, 2, &n), 0);
  EXPECT_EQ(n, 9u);
  EXPECT_EQ(first_two[1], 1u);

  iovamap_device devices[4];
  ASSERT_EQ(iovamap_host_group_devices(host, 6, devices, 4, &n), 0);
  ASSERT_EQ(n, 3u);
  EXPECT_STREQ(devices[0].name, "0000:00:1f.0");
  EXPECT_STREQ(devices[2].name, "0000:00:1f.3");
  EXPECT_EQ(devices[1].vendor, 0x8086);
  EXPECT_EQ(devices[1].device_id, 0x2922);
  EXPECT_EQ(devices[1].class_code, 0x010601u);
  EXPECT_EQ(devices[1].group_id, 6u);
  EXPECT_EQ(devices[1].is_pci, 1);
  EXPECT_EQ(iovamap_host_group_devices(host, 9, devices, 4, &n), -ENOENT);
  EXPECT_NE(std::string(iovamap_last_error()).find("no group 9"), std::string::npos);
  EXPECT_EQ(iovamap_host_close(host), 0);
}

TEST(CApi, FindDevicesAsLspciFilters) {
  iovamap_host* host = open_snapshot();
  iovamap_device d[16];
  size_t n = 0;
  ASSERT_EQ(iovamap_host_find_devices(host, "01:00.0", nullptr, d, 16, &n), 0);
  ASSERT_EQ(n, 1u);
  EXPECT_STREQ(d[0].name, "0000:01:00.0");
  EXPECT_EQ(d[0].group_id, 7u);
  ASSERT_EQ(iovamap_host_find_devices(host, nullptr, "1af4:1000", d, 16, &n), 0);
  ASSERT_EQ(n, 1u);
  EXPECT_STREQ(d[0].name, "0000:03:01.0");
  // Network controllers (class 02xx) on bus 0 only: both filters narrow, as in lspci.
  ASSERT_EQ(iovamap_host_find_devices(host, "00:", "::02xx", d, 16, &n), 0);
  ASSERT_EQ(n, 1u);
  EXPECT_STREQ(d[0].name, "0000:00:04.0");
  ASSERT_EQ(iovamap_host_find_devices(host, nullptr, nullptr, nullptr, 0, &n), 0);
  EXPECT_EQ(n, 13u);
  ASSERT_EQ(iovamap_host_find_devices(host, "05:00.0", nullptr, d, 16, &n), 0);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(iovamap_host_find_devices(host, "100:00.0", nullptr, d, 16, &n), -EINVAL);
  EXPECT_EQ(iovamap_host_find_devices(host, nullptr, "8086", d, 16, &n), -EINVAL);
  EXPECT_EQ(iovamap_host_close(host), 0);
}

TEST(CApi, SelectGroupsAsTheToolsOperands) {
  iovamap_host* host = open_snapshot();
  const char* sel[] = {"01:00.0", "6"};
  const char* ids[] = {"1af4:1000"};
  uint32_t out[8];
  size_t n = 0;
  ASSERT_EQ(iovamap_host_select_groups(host, sel, 2, ids, 1, out, 8, &n), 0);
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(out[0], 7u);
  EXPECT_EQ(out[1], 6u);
  EXPECT_EQ(out[2], 8u);
  EXPECT_EQ(iovamap_host_select_groups(host, nullptr, 0, nullptr, 0, out, 8, &n), -EINVAL);
  const char* missing[] = {"01:00.1"};
  EXPECT_EQ(iovamap_host_select_groups(host, missing, 1, nullptr, 0, out, 8, &n), -ENOENT);
  EXPECT_EQ(iovamap_host_close(host), 0);
}

// The report is describe_container's, range for range and stop for stop.
TEST(CApi, DescribeEqualsTheCxxLibrary) {
  for (iovamap_rules rules : {IOVAMAP_RULES_TYPE1, IOVAMAP_RULES_IOMMUFD}) {
    // dmar0's aperture is 39 bits: a 36-bit limit is what ends the space.
    iovamap_host* host = open_snapshot("01:00.0=36");
    const char* sel[] = {"01:00.0", "6"};
    iovamap_report* report = nullptr;
    ASSERT_EQ(iovamap_host_describe(host, rules, sel, 2, nullptr, 0, &report), 0)
        << iovamap_last_error();
    ASSERT_EQ(iovamap_host_close(host), 0);  // the report owns its data

    Result<LoadedHost> loaded = load_host({.source = HostSource::kSnapshot,
                                           .path = kSnapshot,
                                           .policy = Policy::kEffective,
                                           .dma_limits = {"01:00.0=36"}});
    ASSERT_TRUE(loaded);
    Result<ContainerReport> want = describe_container(
        loaded->host, {7, 6}, Policy::kEffective,
        rules == IOVAMAP_RULES_TYPE1 ? ContainerRules::kType1 : ContainerRules::kIommufd);
    ASSERT_TRUE(want);

    iovamap_report_info info;
    ASSERT_EQ(iovamap_report_get_info(report, &info), 0);
    EXPECT_EQ(info.rules, rules);
    EXPECT_EQ(info.policy, IOVAMAP_POLICY_EFFECTIVE);
    EXPECT_EQ(info.refusal_errno, 0);
    EXPECT_STREQ(info.refusal_message, "");
    EXPECT_EQ(info.alignment, want->alignment);
    ASSERT_EQ(info.range_count, want->usable.size());
    ASSERT_GT(info.range_count, 1u);
    EXPECT_EQ(info.warning_count, want->warnings.size());

    std::vector<iovamap_range> ranges(info.range_count);
    size_t n = 0;
    ASSERT_EQ(iovamap_report_ranges(report, ranges.data(), ranges.size(), &n), 0);
    EXPECT_EQ(n, info.range_count);
    for (size_t i = 0; i < n; ++i) {
      const UsableRange& u = want->usable[i];
      EXPECT_EQ(ranges[i].first, u.range.first);
      EXPECT_EQ(ranges[i].last, u.range.last);
      iovamap_usable_range ur;
      ASSERT_EQ(iovamap_report_range(report, i, &ur), 0);
      EXPECT_EQ(ur.below_count, u.below.size());
      EXPECT_EQ(ur.above_count, u.above.size());
      for (size_t j = 0; j < ur.above_count; ++j) {
        iovamap_stop s;
        ASSERT_EQ(iovamap_report_stop(report, i, IOVAMAP_ABOVE, j, &s), 0);
        EXPECT_EQ(s.kind, static_cast<int>(u.above[j].kind));
        EXPECT_EQ(s.group_id, u.above[j].group_id);
        EXPECT_EQ(s.range.first, u.above[j].range.first);
        EXPECT_EQ(s.range.last, u.above[j].range.last);
        EXPECT_EQ(std::string(s.device), u.above[j].device);
        int want_type = u.above[j].type ? static_cast<int>(*u.above[j].type) : -1;
        EXPECT_EQ(s.region_type, want_type);
      }
    }
    // The 36-bit limit of 01:00.0 ends the last range.
    EXPECT_EQ(ranges.back().last, (uint64_t{1} << 36) - 1);
    iovamap_usable_range last;
    ASSERT_EQ(iovamap_report_range(report, n - 1, &last), 0);
    EXPECT_EQ(iovamap_report_range(report, n, &last), -ERANGE);
    iovamap_stop s;
    EXPECT_EQ(iovamap_report_stop(report, n, IOVAMAP_ABOVE, 0, &s), -ERANGE);
    EXPECT_EQ(iovamap_report_stop(report, 0, IOVAMAP_ABOVE, 99, &s), -ERANGE);
    EXPECT_EQ(iovamap_report_stop(report, 0, 7, 0, &s), -EINVAL);
    const char* w = nullptr;
    EXPECT_EQ(iovamap_report_warning(report, info.warning_count, &w), -ERANGE);
    EXPECT_EQ(iovamap_report_destroy(report), 0);
  }
}

TEST(CApi, CheckerGivesTheKernelsVerdicts) {
  iovamap_host* host = open_snapshot();
  const char* sel[] = {"7"};
  iovamap_checker* c = nullptr;
  ASSERT_EQ(iovamap_checker_create(host, sel, 1, &c), 0) << iovamap_last_error();
  iovamap_verdict v;
  ASSERT_EQ(iovamap_checker_check(c, 0x100000, 0x10000, &v), 0);
  EXPECT_EQ(v.ok, 1);
  EXPECT_EQ(v.refusal_errno, 0);
  EXPECT_STREQ(v.reason, "");
  ASSERT_EQ(iovamap_checker_check(c, 0xfee00000, 0x1000, &v), 0);  // the MSI window
  EXPECT_EQ(v.ok, 0);
  EXPECT_EQ(v.refusal_errno, EINVAL);
  EXPECT_NE(std::string(v.reason).find("msi"), std::string::npos) << v.reason;
  EXPECT_EQ(v.has_nearest, 1);
  ASSERT_EQ(iovamap_checker_check(c, 0x100000, 0x1000, &v), 0);  // mapped above
  EXPECT_EQ(v.refusal_errno, EEXIST);
  ASSERT_EQ(iovamap_checker_check(c, 0x200000, 0, &v), 0);  // size 0: as the kernel
  EXPECT_EQ(v.refusal_errno, EINVAL);
  ASSERT_EQ(iovamap_checker_check(c, UINT64_MAX - 0xfff, 0x2000, &v), 0);  // wraps
  EXPECT_EQ(v.ok, 0);
  EXPECT_EQ(iovamap_checker_check(c, 0, 0x1000, nullptr), -EINVAL);
  EXPECT_EQ(iovamap_checker_destroy(c), 0);
  EXPECT_EQ(iovamap_checker_check(c, 0x100000, 0x1000, &v), -EBADF);
  const char* none[] = {"9"};
  EXPECT_EQ(iovamap_checker_create(host, none, 1, &c), -ENOENT);
  EXPECT_EQ(iovamap_host_close(host), 0);
}

TEST(CApi, AllocatorAllocatesBelowTheLimitAndFrees) {
  iovamap_range usable[] = {{0x100000, 0xfedfffff}, {0xfef00000, (uint64_t{1} << 40) - 1}};
  iovamap_allocator* a = nullptr;
  ASSERT_EQ(iovamap_allocator_create(usable, 2, 4096, &a), 0) << iovamap_last_error();
  iovamap_allocator_stats st;
  ASSERT_EQ(iovamap_allocator_get_stats(a, &st), 0);
  EXPECT_EQ(st.usable_bytes,
            (0xfedfffffull - 0x100000 + 1) + ((uint64_t{1} << 40) - 0xfef00000ull));
  EXPECT_EQ(st.live_count, 0u);

  iovamap_range b;
  ASSERT_EQ(iovamap_allocator_alloc(a, 5000, 0xffffffff, 0, &b), 0);
  EXPECT_EQ(b.last - b.first + 1, 8192u);  // two granules, a power of two
  EXPECT_LE(b.last, 0xffffffffu);
  EXPECT_EQ(b.first % 8192, 0u);
  EXPECT_TRUE(b.last < 0xfee00000 || b.first > 0xfeefffff);
  iovamap_range fixed;
  ASSERT_EQ(iovamap_allocator_alloc_at(a, 0x200000, 0x3000, &fixed), 0);
  EXPECT_EQ(fixed.first, 0x200000u);
  EXPECT_EQ(fixed.last, 0x202fffu);
  EXPECT_EQ(iovamap_allocator_alloc_at(a, 0x201000, 0x1000, &fixed), -EBUSY);
  EXPECT_EQ(iovamap_allocator_alloc_at(a, 0xfee00000, 0x1000, &fixed), -EINVAL);  // a hole
  ASSERT_EQ(iovamap_allocator_get_stats(a, &st), 0);
  EXPECT_EQ(st.live_count, 2u);
  ASSERT_EQ(iovamap_allocator_free(a, &b), 0);
  iovamap_range f{0x200000, 0x202fff};
  ASSERT_EQ(iovamap_allocator_free(a, &f), 0);
  EXPECT_EQ(iovamap_allocator_free(a, &f), -EINVAL);  // a double free the tree sees
  ASSERT_EQ(iovamap_allocator_get_stats(a, &st), 0);
  EXPECT_EQ(st.live_count, 0u);
  // Nothing fits below a limit under the first usable granule.
  EXPECT_EQ(iovamap_allocator_alloc(a, 4096, 0xfffff, 0, &b), -ENOMEM);
  EXPECT_NE(std::string(iovamap_last_error()), "");
  EXPECT_EQ(iovamap_allocator_destroy(a), 0);
}

TEST(CApi, AllocatorFromAReportAcrossThreads) {
  iovamap_host* host = open_snapshot("01:00.0=40");
  const char* sel[] = {"01:00.0"};
  iovamap_report* report = nullptr;
  ASSERT_EQ(iovamap_host_describe(host, IOVAMAP_RULES_TYPE1, sel, 1, nullptr, 0, &report), 0);
  iovamap_report_info info;
  ASSERT_EQ(iovamap_report_get_info(report, &info), 0);
  std::vector<iovamap_range> ranges(info.range_count);
  size_t n = 0;
  ASSERT_EQ(iovamap_report_ranges(report, ranges.data(), ranges.size(), &n), 0);
  iovamap_allocator* a = nullptr;
  ASSERT_EQ(iovamap_allocator_create(ranges.data(), n, info.alignment, &a), 0);
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::vector<iovamap_range> live(64);
      for (int round = 0; round < 50; ++round) {
        for (auto& b : live)
          if (iovamap_allocator_alloc(a, 4096u << (round % 4), (uint64_t{1} << 40) - 1, 0, &b))
            ++failures[t];
        for (auto& b : live)
          if (iovamap_allocator_free(a, &b)) ++failures[t];
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
  iovamap_allocator_stats st;
  ASSERT_EQ(iovamap_allocator_get_stats(a, &st), 0);
  EXPECT_EQ(st.live_count, 0u);
  EXPECT_EQ(iovamap_allocator_destroy(a), 0);
  EXPECT_EQ(iovamap_report_destroy(report), 0);
  EXPECT_EQ(iovamap_host_close(host), 0);
}

TEST(CApi, OpenErrors) {
  iovamap_host* host = nullptr;
  EXPECT_EQ(iovamap_host_open(IOVAMAP_SOURCE_SNAPSHOT, kSnapshot.c_str(), IOVAMAP_POLICY_EFFECTIVE,
                              nullptr, 0, nullptr),
            -EINVAL);
  EXPECT_EQ(iovamap_host_open(IOVAMAP_SOURCE_SNAPSHOT, nullptr, IOVAMAP_POLICY_EFFECTIVE, nullptr,
                              0, &host),
            -EINVAL);
  EXPECT_EQ(iovamap_host_open(9, kSnapshot.c_str(), IOVAMAP_POLICY_EFFECTIVE, nullptr, 0, &host),
            -EINVAL);
  EXPECT_EQ(iovamap_host_open(IOVAMAP_SOURCE_SNAPSHOT, kSnapshot.c_str(), -1, nullptr, 0, &host),
            -EINVAL);
  EXPECT_EQ(iovamap_host_open(IOVAMAP_SOURCE_SNAPSHOT, kSnapshot.c_str(), IOVAMAP_POLICY_EFFECTIVE,
                              nullptr, 2, &host),
            -EINVAL);
  const char* null_limit[] = {nullptr};
  EXPECT_EQ(iovamap_host_open(IOVAMAP_SOURCE_SNAPSHOT, kSnapshot.c_str(), IOVAMAP_POLICY_EFFECTIVE,
                              null_limit, 1, &host),
            -EINVAL);
  const char* bad_limit[] = {"01:00.0=65"};
  EXPECT_EQ(iovamap_host_open(IOVAMAP_SOURCE_SNAPSHOT, kSnapshot.c_str(), IOVAMAP_POLICY_EFFECTIVE,
                              bad_limit, 1, &host),
            -EINVAL);
  const char* nothing[] = {"05:00.0=40"};
  EXPECT_EQ(iovamap_host_open(IOVAMAP_SOURCE_SNAPSHOT, kSnapshot.c_str(), IOVAMAP_POLICY_EFFECTIVE,
                              nothing, 1, &host),
            -ENOENT);
  EXPECT_NE(std::string(iovamap_last_error()).find("05:00.0"), std::string::npos)
      << iovamap_last_error();
  EXPECT_LT(iovamap_host_open(IOVAMAP_SOURCE_TOPOLOGY, "/nonexistent/x.toml",
                              IOVAMAP_POLICY_EFFECTIVE, nullptr, 0, &host),
            0);
  EXPECT_EQ(host, nullptr);  // untouched on failure
  // A topology file opens too.
  std::string topology = std::string(IOVAMAP_SOURCE_DIR) + "/examples/pci-bridge-32bit.toml";
  ASSERT_EQ(iovamap_host_open(IOVAMAP_SOURCE_TOPOLOGY, topology.c_str(), IOVAMAP_POLICY_KERNEL,
                              nullptr, 0, &host),
            0)
      << iovamap_last_error();
  size_t n = 0;
  EXPECT_EQ(iovamap_host_groups(host, nullptr, 0, &n), 0);
  EXPECT_GT(n, 0u);
  EXPECT_EQ(iovamap_host_close(host), 0);
}

// Every handle-taking function refuses NULL, a destroyed handle, a handle of another type and
// a value the library never made, with -EBADF.
TEST(CApi, BadHandlesAreErrorsNeverCrashes) {
  iovamap_host* live_host = open_snapshot();
  iovamap_host* dead_host = open_snapshot();
  ASSERT_EQ(iovamap_host_close(dead_host), 0);
  EXPECT_EQ(iovamap_host_close(dead_host), -EBADF);  // closed twice

  iovamap_range r{0x100000, 0x1fffff};
  iovamap_allocator* live_alloc = nullptr;
  ASSERT_EQ(iovamap_allocator_create(&r, 1, 4096, &live_alloc), 0);
  iovamap_allocator* dead_alloc = nullptr;
  ASSERT_EQ(iovamap_allocator_create(&r, 1, 4096, &dead_alloc), 0);
  ASSERT_EQ(iovamap_allocator_destroy(dead_alloc), 0);

  // A report and a checker, destroyed.
  const char* sel[] = {"7"};
  iovamap_report* dead_report = nullptr;
  ASSERT_EQ(iovamap_host_describe(live_host, IOVAMAP_RULES_TYPE1, sel, 1, nullptr, 0, &dead_report),
            0);
  ASSERT_EQ(iovamap_report_destroy(dead_report), 0);
  iovamap_checker* dead_checker = nullptr;
  ASSERT_EQ(iovamap_checker_create(live_host, sel, 1, &dead_checker), 0);
  ASSERT_EQ(iovamap_checker_destroy(dead_checker), 0);

  // The live handles under the other types' names, and values nobody made (on the stack, on
  // the heap, small integers, all ones).
  int on_stack = 0;
  auto on_heap = std::make_unique<uint64_t[]>(8);
  std::vector<uintptr_t> forgeries = {
      1,
      0x1000,
      reinterpret_cast<uintptr_t>(&on_stack),
      reinterpret_cast<uintptr_t>(on_heap.get()),
      UINTPTR_MAX,
      reinterpret_cast<uintptr_t>(live_host) ^ (uintptr_t{1} << 40)};

  std::vector<iovamap_host*> hosts = {nullptr, dead_host,
                                      reinterpret_cast<iovamap_host*>(live_alloc)};
  std::vector<iovamap_allocator*> allocs = {nullptr, dead_alloc,
                                            reinterpret_cast<iovamap_allocator*>(live_host)};
  std::vector<iovamap_report*> reports = {nullptr, dead_report,
                                          reinterpret_cast<iovamap_report*>(live_host)};
  std::vector<iovamap_checker*> checkers = {nullptr, dead_checker,
                                            reinterpret_cast<iovamap_checker*>(live_alloc)};
  for (uintptr_t v : forgeries) {
    hosts.push_back(forged<iovamap_host>(v));
    allocs.push_back(forged<iovamap_allocator>(v));
    reports.push_back(forged<iovamap_report>(v));
    checkers.push_back(forged<iovamap_checker>(v));
  }

  size_t n = 0;
  uint32_t ids[4];
  iovamap_device dev[4];
  iovamap_report* report = nullptr;
  iovamap_checker* checker = nullptr;
  for (iovamap_host* h : hosts) {
    SCOPED_TRACE(reinterpret_cast<uintptr_t>(h));
    EXPECT_EQ(iovamap_host_groups(h, ids, 4, &n), -EBADF);
    EXPECT_EQ(iovamap_host_group_devices(h, 7, dev, 4, &n), -EBADF);
    EXPECT_EQ(iovamap_host_find_devices(h, "01:00.0", nullptr, dev, 4, &n), -EBADF);
    EXPECT_EQ(iovamap_host_select_groups(h, sel, 1, nullptr, 0, ids, 4, &n), -EBADF);
    EXPECT_EQ(iovamap_host_describe(h, IOVAMAP_RULES_TYPE1, sel, 1, nullptr, 0, &report), -EBADF);
    EXPECT_EQ(iovamap_checker_create(h, sel, 1, &checker), -EBADF);
    if (h != reinterpret_cast<iovamap_host*>(live_alloc)) {
      EXPECT_EQ(iovamap_host_close(h), -EBADF);
    }
  }
  EXPECT_NE(std::string(iovamap_last_error()).find("not a live iovamap"), std::string::npos);
  iovamap_range b;
  iovamap_allocator_stats st;
  for (iovamap_allocator* a : allocs) {
    SCOPED_TRACE(reinterpret_cast<uintptr_t>(a));
    EXPECT_EQ(iovamap_allocator_alloc(a, 4096, UINT64_MAX, 0, &b), -EBADF);
    EXPECT_EQ(iovamap_allocator_alloc_at(a, 0x100000, 4096, &b), -EBADF);
    EXPECT_EQ(iovamap_allocator_free(a, &r), -EBADF);
    EXPECT_EQ(iovamap_allocator_get_stats(a, &st), -EBADF);
    if (a != reinterpret_cast<iovamap_allocator*>(live_host)) {
      EXPECT_EQ(iovamap_allocator_destroy(a), -EBADF);
    }
  }
  iovamap_report_info info;
  iovamap_usable_range ur;
  iovamap_stop stop;
  const char* w = nullptr;
  for (iovamap_report* rep : reports) {
    SCOPED_TRACE(reinterpret_cast<uintptr_t>(rep));
    EXPECT_EQ(iovamap_report_get_info(rep, &info), -EBADF);
    EXPECT_EQ(iovamap_report_ranges(rep, &b, 1, &n), -EBADF);
    EXPECT_EQ(iovamap_report_range(rep, 0, &ur), -EBADF);
    EXPECT_EQ(iovamap_report_stop(rep, 0, IOVAMAP_ABOVE, 0, &stop), -EBADF);
    EXPECT_EQ(iovamap_report_warning(rep, 0, &w), -EBADF);
    if (rep != reinterpret_cast<iovamap_report*>(live_host)) {
      EXPECT_EQ(iovamap_report_destroy(rep), -EBADF);
    }
  }
  iovamap_verdict v;
  for (iovamap_checker* c : checkers) {
    SCOPED_TRACE(reinterpret_cast<uintptr_t>(c));
    EXPECT_EQ(iovamap_checker_check(c, 0x100000, 0x1000, &v), -EBADF);
    if (c != reinterpret_cast<iovamap_checker*>(live_alloc)) {
      EXPECT_EQ(iovamap_checker_destroy(c), -EBADF);
    }
  }
  // The wrong-type destroys were refused and left the live handles alive.
  EXPECT_EQ(iovamap_host_close(reinterpret_cast<iovamap_host*>(live_alloc)), -EBADF);
  EXPECT_EQ(iovamap_allocator_destroy(reinterpret_cast<iovamap_allocator*>(live_host)), -EBADF);
  EXPECT_EQ(iovamap_host_groups(live_host, ids, 4, &n), 0);
  EXPECT_EQ(iovamap_allocator_destroy(live_alloc), 0);
  EXPECT_EQ(iovamap_host_close(live_host), 0);
}

// Every NULL out parameter or list, every overflowing range and a limit of 0: -EINVAL.
TEST(CApi, BadArgumentsAreEinval) {
  iovamap_host* host = open_snapshot();
  size_t n = 0;
  uint32_t ids[4];
  iovamap_device dev[4];
  const char* sel[] = {"7"};
  const char* null_sel[] = {nullptr};
  EXPECT_EQ(iovamap_host_groups(host, ids, 4, nullptr), -EINVAL);
  EXPECT_EQ(iovamap_host_groups(host, nullptr, 4, &n), -EINVAL);
  EXPECT_EQ(iovamap_host_group_devices(host, 7, nullptr, 1, &n), -EINVAL);
  EXPECT_EQ(iovamap_host_group_devices(host, 7, dev, 4, nullptr), -EINVAL);
  EXPECT_EQ(iovamap_host_find_devices(host, nullptr, nullptr, dev, 4, nullptr), -EINVAL);
  EXPECT_EQ(iovamap_host_select_groups(host, nullptr, 1, nullptr, 0, ids, 4, &n), -EINVAL);
  EXPECT_EQ(iovamap_host_select_groups(host, null_sel, 1, nullptr, 0, ids, 4, &n), -EINVAL);
  EXPECT_EQ(iovamap_host_select_groups(host, sel, 1, nullptr, 3, ids, 4, &n), -EINVAL);
  EXPECT_EQ(iovamap_host_select_groups(host, sel, 1, nullptr, 0, ids, 4, nullptr), -EINVAL);
  iovamap_report* report = nullptr;
  EXPECT_EQ(iovamap_host_describe(host, IOVAMAP_RULES_TYPE1, sel, 1, nullptr, 0, nullptr), -EINVAL);
  EXPECT_EQ(iovamap_host_describe(host, 5, sel, 1, nullptr, 0, &report), -EINVAL);
  EXPECT_EQ(iovamap_host_describe(host, IOVAMAP_RULES_TYPE1, nullptr, 0, nullptr, 0, &report),
            -EINVAL);
  EXPECT_EQ(report, nullptr);
  EXPECT_EQ(iovamap_checker_create(host, sel, 1, nullptr), -EINVAL);
  ASSERT_EQ(iovamap_host_describe(host, IOVAMAP_RULES_TYPE1, sel, 1, nullptr, 0, &report), 0);
  EXPECT_EQ(iovamap_report_get_info(report, nullptr), -EINVAL);
  EXPECT_EQ(iovamap_report_ranges(report, nullptr, 1, &n), -EINVAL);
  EXPECT_EQ(iovamap_report_ranges(report, nullptr, 0, nullptr), -EINVAL);
  EXPECT_EQ(iovamap_report_range(report, 0, nullptr), -EINVAL);
  EXPECT_EQ(iovamap_report_stop(report, 0, IOVAMAP_ABOVE, 0, nullptr), -EINVAL);
  EXPECT_EQ(iovamap_report_warning(report, 0, nullptr), -EINVAL);
  EXPECT_EQ(iovamap_report_destroy(report), 0);
  EXPECT_EQ(iovamap_host_close(host), 0);

  iovamap_allocator* a = nullptr;
  iovamap_range good{0x100000, 0x1fffff};
  iovamap_range reversed{0x200000, 0x100000};  // first > last: not a range
  iovamap_range both[] = {good, reversed};
  iovamap_range zero_page{0, 0xfff};  // only IOVA 0's granule: nothing usable
  EXPECT_EQ(iovamap_allocator_create(&good, 1, 4096, nullptr), -EINVAL);
  EXPECT_EQ(iovamap_allocator_create(nullptr, 1, 4096, &a), -EINVAL);
  EXPECT_EQ(iovamap_allocator_create(both, 2, 4096, &a), -EINVAL);
  EXPECT_EQ(iovamap_allocator_create(&good, 1, 3000, &a), -EINVAL);  // not a power of two
  EXPECT_EQ(iovamap_allocator_create(&good, 1, 0, &a), -EINVAL);
  EXPECT_EQ(iovamap_allocator_create(&zero_page, 1, 4096, &a), -EINVAL);
  EXPECT_EQ(iovamap_allocator_create(nullptr, 0, 4096, &a), -EINVAL);  // nothing usable
  EXPECT_EQ(a, nullptr);
  ASSERT_EQ(iovamap_allocator_create(&good, 1, 4096, &a), 0);
  iovamap_range b;
  EXPECT_EQ(iovamap_allocator_alloc(a, 4096, 0, 0, &b), -EINVAL);  // a limit of 0
  EXPECT_NE(std::string(iovamap_last_error()).find("limit 0"), std::string::npos);
  EXPECT_EQ(iovamap_allocator_alloc(a, 0, UINT64_MAX, 0, &b), -EINVAL);
  EXPECT_EQ(iovamap_allocator_alloc(a, 4096, UINT64_MAX, 3, &b), -EINVAL);  // alignment
  EXPECT_EQ(iovamap_allocator_alloc(a, 4096, UINT64_MAX, 0, nullptr), -EINVAL);
  EXPECT_EQ(iovamap_allocator_alloc(a, UINT64_MAX, UINT64_MAX, 0, &b), -ENOMEM);  // overflows
  EXPECT_EQ(iovamap_allocator_alloc_at(a, 0x100000, 0, &b), -EINVAL);
  EXPECT_EQ(iovamap_allocator_alloc_at(a, 0x100800, 0x1000, &b), -EINVAL);            // unaligned
  EXPECT_EQ(iovamap_allocator_alloc_at(a, UINT64_MAX - 0xfff, 0x2000, &b), -EINVAL);  // wraps
  EXPECT_EQ(iovamap_allocator_alloc_at(a, 0x100000, UINT64_MAX, &b), -EINVAL);
  EXPECT_EQ(iovamap_allocator_alloc_at(a, 0x100000, 0x1000, nullptr), -EINVAL);
  EXPECT_EQ(iovamap_allocator_free(a, nullptr), -EINVAL);
  EXPECT_EQ(iovamap_allocator_free(a, &reversed), -EINVAL);
  // Free space, never allocated: 3 granules is no cached size class, so the tree sees it (a
  // cached size would go to the thread's cache unchecked, as iova_allocator.h says).
  iovamap_range never{0x150000, 0x152fff};
  EXPECT_EQ(iovamap_allocator_free(a, &never), -EINVAL);
  iovamap_range outside{0x300000, 0x300fff};
  EXPECT_EQ(iovamap_allocator_free(a, &outside), -EINVAL);
  EXPECT_EQ(iovamap_allocator_get_stats(a, nullptr), -EINVAL);
  EXPECT_EQ(iovamap_allocator_destroy(a), 0);
}

}  // namespace
}  // namespace iovamap
