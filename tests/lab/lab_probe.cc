// lab_probe: the guest-side half of the QEMU lab. Asks the running kernel through the real
// VFIO and iommufd ioctls (the library's live layer) and writes the answers as fixture files.
// Until `iovamap verify` runs in the guest, this is how the lab checks MAP_DMA against the
// type1 rule; it is linked statically and runs as root in the lab's initramfs.
//
// Usage:
//   lab_probe type1 OUTDIR TAG GROUP...   one container holding all GROUPs; writes
//       OUTDIR/get_info.TAG (reply bytes, hex), vfio_ranges.TAG, iova_pgsizes.TAG, caps.TAG,
//       map_probe.TAG ("IOVA kernel=ERR model=ERR" per probe); exit 1 on a MAP_DMA mismatch.
//   lab_probe iommufd OUTDIR TAG CDEV...  one IOAS; writes iommufd_empty.TAG (before any
//       attach) and iommufd_ranges.TAG (after attaching every CDEV), ranges then
//       "alignment 0x...".
//   lab_probe attach OUTDIR GROUP [CDEV...]  only asks whether the kernel takes the group: a
//       type1 container (VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU) and, with CDEVs, an iommufd
//       bind and attach of each; appends "type1 ERR" and "iommufd ERR" (OK when taken) to
//       OUTDIR/attach.GROUP. The guest runs it with allow_unsafe_interrupts off (the MSI
//       isolation check, include/iovamap/msi.h).
// Exit 2 when the kernel refuses to open/attach (message on stderr).
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "iommufd_live.h"
#include "vfio_live.h"

using namespace iovamap;

namespace {

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  return static_cast<bool>(f);
}

std::string verdict_name(int e) {
  switch (e) {
    case 0:
      return "OK";
    case EINVAL:
      return "EINVAL";
    case EEXIST:
      return "EEXIST";
    case ENOSPC:
      return "ENOSPC";
    case EPERM:
      return "EPERM";
    case ENOMEM:
      return "ENOMEM";
    case EFAULT:
      return "EFAULT";
    case EBUSY:
      return "EBUSY";
    default:
      return "E" + std::to_string(e);
  }
}

std::string hex64(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%016" PRIx64, v);
  return buf;
}

// Reads /sys/kernel/iommu_groups/G/reserved_regions into ranges (types are not needed here).
std::vector<Range> reserved_of(const std::string& group) {
  std::vector<Range> out;
  std::ifstream f("/sys/kernel/iommu_groups/" + group + "/reserved_regions");
  std::string line;
  while (std::getline(f, line)) {
    uint64_t a = 0, b = 0;
    if (std::sscanf(line.c_str(), "%" SCNx64 " %" SCNx64, &a, &b) == 2 && a <= b) {
      out.push_back({a, b});
    }
  }
  return out;
}

// Group numbers as the guest's init passes them (decimal, from /sys/kernel/iommu_groups).
std::vector<uint32_t> group_numbers(const std::vector<std::string>& groups) {
  std::vector<uint32_t> out;
  for (const std::string& g : groups) out.push_back(static_cast<uint32_t>(std::stoul(g)));
  return out;
}

int run_type1(const std::string& dir, const std::string& tag,
              const std::vector<std::string>& groups) {
  auto session = VfioType1Session::open(group_numbers(groups));
  if (!session) {
    std::fprintf(stderr, "lab_probe type1 %s: %s\n", tag.c_str(), session.error().message.c_str());
    write_file(dir + "/type1_error." + tag, session.error().message + "\n");
    return 2;
  }
  auto info = session->get_info();
  if (!info) {
    std::fprintf(stderr, "lab_probe type1 %s: %s\n", tag.c_str(), info.error().message.c_str());
    return 2;
  }
  std::ostringstream hex;
  for (size_t i = 0; i < info->raw.size(); ++i) {
    char b[4];
    std::snprintf(b, sizeof b, "%02x", info->raw[i]);
    hex << b << ((i % 16 == 15 || i + 1 == info->raw.size()) ? "\n" : " ");
  }
  write_file(dir + "/get_info." + tag, hex.str());
  write_file(dir + "/vfio_ranges." + tag, format_vfio_ranges(info->iova_ranges));
  write_file(dir + "/iova_pgsizes." + tag, hex64(info->iova_pgsizes) + "\n");
  std::ostringstream caps;
  caps << "argsz " << info->argsz << "\nflags " << info->flags << "\n";
  for (const auto& c : info->caps) {
    caps << "cap id " << c.id << " version " << c.version << " offset " << c.offset << "\n";
  }
  if (info->dma_avail) caps << "dma_avail " << *info->dma_avail << "\n";
  write_file(dir + "/caps." + tag, caps.str());

  uint64_t page = info->iova_pgsizes & (~info->iova_pgsizes + 1);
  std::vector<Range> reserved;
  for (const auto& g : groups) {
    for (const Range& r : reserved_of(g)) reserved.push_back(r);
  }
  int mismatches = 0;
  std::ostringstream probes;
  for (uint64_t iova : type1_probe_points(info->iova_ranges, reserved, page)) {
    auto got = session->probe_map(iova, page);
    if (!got) {
      std::fprintf(stderr, "lab_probe type1 %s: %s\n", tag.c_str(), got.error().message.c_str());
      return 2;
    }
    int want = type1_map_verdict(info->iova_ranges, info->iova_pgsizes, iova, page);
    int kernel = got->map_errno;
    probes << hex64(iova) << " kernel=" << verdict_name(kernel) << " model=" << verdict_name(want)
           << (got->stuck ? " unmap=stuck" : "") << (kernel == want ? "" : " MISMATCH") << "\n";
    if (kernel != want) ++mismatches;
  }
  write_file(dir + "/map_probe." + tag, probes.str());
  // Evidence for the stuck-mapping quirk and for our cleanup: dma_avail after the probes in
  // this session, and in a fresh session once this one is closed.
  auto during = session->get_info();
  session = make_error(0, "closed");  // closes the container: the teardown unmaps
  auto reopened = VfioType1Session::open(group_numbers(groups));
  Result<Type1Info> after = make_error(EIO, "reopen failed");
  if (reopened) after = reopened->get_info();
  std::ostringstream avail;
  avail << "dma_avail_after_probes " << (during && during->dma_avail ? *during->dma_avail : 0)
        << "\ndma_avail_after_reopen " << (after && after->dma_avail ? *after->dma_avail : 0)
        << "\n";
  write_file(dir + "/dma_avail." + tag, avail.str());
  if (mismatches) {
    std::fprintf(stderr, "lab_probe type1 %s: %d MAP_DMA verdicts differ from the model\n",
                 tag.c_str(), mismatches);
    return 1;
  }
  return 0;
}

std::string format_ioas(const IoasRanges& r) {
  return format_vfio_ranges(r.ranges) + "alignment " + hex(r.alignment) + "\n";
}

int run_iommufd(const std::string& dir, const std::string& tag,
                const std::vector<std::string>& cdevs) {
  auto session = IommufdSession::open();
  if (!session) {
    std::fprintf(stderr, "lab_probe iommufd %s: %s\n", tag.c_str(),
                 session.error().message.c_str());
    return 2;
  }
  auto empty = session->ranges();
  if (!empty) {
    std::fprintf(stderr, "lab_probe iommufd %s: %s\n", tag.c_str(), empty.error().message.c_str());
    return 2;
  }
  write_file(dir + "/iommufd_empty." + tag, format_ioas(*empty));
  for (const auto& c : cdevs) {
    auto st = session->attach(c);
    if (!st) {
      std::fprintf(stderr, "lab_probe iommufd %s: %s\n", tag.c_str(), st.error().message.c_str());
      write_file(dir + "/iommufd_error." + tag, st.error().message + "\n");
      return 2;
    }
  }
  auto after = session->ranges();
  if (!after) {
    std::fprintf(stderr, "lab_probe iommufd %s: %s\n", tag.c_str(), after.error().message.c_str());
    return 2;
  }
  write_file(dir + "/iommufd_ranges." + tag, format_ioas(*after));
  return 0;
}

// The attach verdicts only (see the usage above); exit 0 when both were answered.
int run_attach(const std::string& dir, const std::string& group,
               const std::vector<std::string>& cdevs) {
  std::ostringstream verdicts;
  {
    auto session = VfioType1Session::open(group_numbers({group}));
    int e = session ? 0 : session.error().code;
    if (!session)
      std::fprintf(stderr, "lab_probe attach %s: %s\n", group.c_str(),
                   session.error().message.c_str());
    verdicts << "type1 " << verdict_name(e) << "\n";
  }  // the container closes here, before iommufd claims the devices
  if (!cdevs.empty()) {
    auto session = IommufdSession::open();
    Status st = session ? Status{} : Status(session.error());
    for (size_t i = 0; st && i < cdevs.size(); ++i) st = session->attach(cdevs[i]);
    if (!st)
      std::fprintf(stderr, "lab_probe attach %s: %s\n", group.c_str(), st.error().message.c_str());
    verdicts << "iommufd " << verdict_name(st ? 0 : st.error().code) << "\n";
  }
  std::ofstream f(dir + "/attach." + group, std::ios::app);
  f << verdicts.str();
  return f ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || (argc < 5 && std::string(argv[1]) != "attach")) {
    std::fprintf(stderr,
                 "usage: lab_probe type1|iommufd OUTDIR TAG GROUP|CDEV...\n"
                 "       lab_probe attach OUTDIR GROUP [CDEV...]\n");
    return 2;
  }
  std::string mode = argv[1], dir = argv[2], tag = argv[3];
  std::vector<std::string> rest(argv + 4, argv + argc);
  if (mode == "type1") return run_type1(dir, tag, rest);
  if (mode == "iommufd") return run_iommufd(dir, tag, rest);
  if (mode == "attach") {
    std::vector<std::string> cdevs(argv + 4, argv + argc);
    return run_attach(dir, tag, cdevs);
  }
  std::fprintf(stderr, "lab_probe: unknown mode %s\n", mode.c_str());
  return 2;
}
