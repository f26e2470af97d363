// The C example (examples/c/dma_driver.c) with the C++ API, found with find_package(iovamap):
// usable ranges of DEVICE in a VFIO type1 container below its 40-bit DMA limit, then an IOVA
// allocator over them. Same output as the C program.
//
//   cmake -S . -B build -DCMAKE_PREFIX_PATH=P && cmake --build build
//   build/dma_driver /path/to/snapshot/root 01:00.0
#include <iovamap/container.h>
#include <iovamap/device_selection.h>
#include <iovamap/host_loader.h>
#include <iovamap/iova_allocator.h>

#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

namespace {

constexpr uint64_t kDmaLimit = (uint64_t{1} << 40) - 1;

int die(const char* what, const iovamap::Error& e) {
  std::fprintf(stderr, "dma_driver: %s: %s\n", what, e.message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace iovamap;
  if (argc != 3) {
    std::fprintf(stderr, "usage: dma_driver ROOT DEVICE   (ROOT: / or a snapshot directory)\n");
    return 2;
  }
  std::string device = argv[2];
  Result<LoadedHost> host = load_host({.source = HostSource::kSnapshot,
                                       .path = argv[1],
                                       .policy = Policy::kEffective,
                                       .dma_limits = {device + "=40"}});
  if (!host) return die("open", host.error());
  Result<Selection> selection = select_groups(host->host, {device}, {}, false);
  if (!selection) return die("describe", selection.error());
  Result<ContainerReport> report =
      describe_container(host->host, selection->group_ids(), host->policy, ContainerRules::kType1);
  if (!report) return die("describe", report.error());
  if (report->refusal) return die("VFIO would refuse", *report->refusal);
  RangeSet usable;
  for (const UsableRange& u : report->usable) {
    std::printf("0x%016" PRIx64 " 0x%016" PRIx64 "\n", u.range.first, u.range.last);
    usable.add(u.range);
  }

  auto alloc = IovaAllocator::create(usable, report->alignment);
  if (!alloc) return die("allocator", alloc.error());
  const uint64_t sizes[] = {4096, 65536, 2u << 20, 1u << 30};
  std::vector<Range> blocks;
  for (uint64_t size : sizes) {
    Result<Range> r = (*alloc)->allocate(size, {.limit = kDmaLimit});
    if (!r) return die("alloc", r.error());
    std::printf("alloc 0x%" PRIx64 " bytes at 0x%016" PRIx64 "-0x%016" PRIx64 "\n", size, r->first,
                r->last);
    blocks.push_back(*r);
  }
  for (const Range& b : blocks)
    if (Status s = (*alloc)->free(b); !s) return die("free", s.error());
  AllocatorStats stats = (*alloc)->stats();
  std::printf("freed all: %" PRIu64 " live blocks, 0x%" PRIx64 " usable bytes\n", stats.live_count,
              static_cast<uint64_t>(stats.usable_bytes));
  return 0;
}
