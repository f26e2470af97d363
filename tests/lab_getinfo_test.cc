// The GET_INFO reply bytes the model predicts (vfio_info.h) against the bytes real kernels
// copied out in the lab (tests/data/lab-<config>/expected/get_info.<tag>, or
// IOVAMAP_LAB_RESULTS): same length, same argsz, and the same bytes wherever the model says
// the kernel defines them. The state is what the kernel reported (ranges, page sizes,
// dma_avail 65535 for a container that maps nothing); the layout and capabilities come from
// GetInfoOptions::for_kernel of the snapshot's kernel version.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "iovamap/host.h"
#include "iovamap/vfio_info.h"
#include "lab_data.h"
#include "vfio_live.h"

namespace iovamap {
namespace {

namespace fs = std::filesystem;
using lab::hex_bytes;
using lab::lab_dirs;
using lab::slurp;

TEST(LabGetInfo, ModelledReplyBytesMatchTheKernel) {
  int seen = 0;
  for (const auto& dir : lab_dirs()) {
    auto kernel = KernelVersion::parse(slurp(dir / "root/proc/sys/kernel/osrelease"));
    ASSERT_TRUE(kernel) << dir;
    for (const auto& e : fs::directory_iterator(dir / "expected")) {
      std::string name = e.path().filename().string();
      if (name.rfind("get_info.", 0) != 0) continue;
      auto real = hex_bytes(slurp(e.path()));
      auto parsed = parse_type1_info(real);
      ASSERT_TRUE(parsed) << e.path();
      Type1InfoState state{parsed->iova_pgsizes, 65535, parsed->iova_ranges};
      GetInfoOptions options = GetInfoOptions::for_kernel(*kernel);
      // The first call, with the bare struct: only argsz comes back.
      auto first = type1_get_info(state, sizeof(VfioType1Info), options);
      ASSERT_TRUE(first) << e.path();
      EXPECT_EQ(first->argsz, real.size()) << e.path();
      auto model = type1_get_info(state, first->argsz, options);
      ASSERT_TRUE(model) << e.path();
      ASSERT_EQ(model->bytes.size(), real.size()) << e.path();
      std::vector<uint8_t> masked = real;
      for (const Range& u : model->undefined) {
        for (uint64_t i = u.first; i <= u.last && i < masked.size(); ++i)
          masked[i] = model->bytes[i];
      }
      EXPECT_EQ(masked, model->bytes) << dir.filename() << " " << name;
      ++seen;
    }
  }
  EXPECT_GT(seen, 0);
}

}  // namespace
}  // namespace iovamap
