// The kernel command line: words, module parameters (dashes are underscores), driver options
// in order, and the kernel's number and boolean rules against models written from their
// definitions (printf round trips for kstrtouint, a character table for kstrtobool).
#include "iovamap/kernel_cmdline.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <string>

namespace iovamap {
namespace {

using Views = std::vector<std::string_view>;

TEST(KernelCmdline, WordsSplitAtBlanks) {
  EXPECT_EQ(cmdline_words(""), Views{});
  EXPECT_EQ(cmdline_words(" \t\n"), Views{});
  EXPECT_EQ(cmdline_words("BOOT_IMAGE=/vmlinuz  quiet\tro\n"),
            (Views{"BOOT_IMAGE=/vmlinuz", "quiet", "ro"}));
  EXPECT_EQ(cmdline_words("a"), Views{"a"});
}

TEST(KernelCmdline, ModuleParamsMatchDashesAsUnderscoresInOrder) {
  const std::string cmdline =
      "quiet vfio_iommu_type1.dma_entry_limit=1 vfio-iommu-type1.dma-entry-limit=0x2 "
      "vfio_iommu_type1.dma_entry_limit vfio_iommu_type1.dma_entry_limit_x=3 "
      "vfio_iommu_type1.dma_entry_limi=4 xvfio_iommu_type1.dma_entry_limit=5 "
      "vfio_iommu_type1.dma_entry_limit=a=b\n";
  std::vector<CmdlineParam> params = cmdline_params(cmdline, "vfio_iommu_type1.dma_entry_limit");
  ASSERT_EQ(params.size(), 4u);
  EXPECT_EQ(params[0].word, "vfio_iommu_type1.dma_entry_limit=1");
  EXPECT_EQ(params[0].value, "1");
  EXPECT_EQ(params[1].word, "vfio-iommu-type1.dma-entry-limit=0x2");
  EXPECT_EQ(params[1].value, "0x2");
  EXPECT_EQ(params[2].word, "vfio_iommu_type1.dma_entry_limit");
  EXPECT_FALSE(params[2].value);      // a bare name: no value (a bool parameter takes it as true)
  EXPECT_EQ(params[3].value, "a=b");  // the value runs from the first '='
  // Only '-' and '_' are interchangeable; '.' is not.
  EXPECT_TRUE(cmdline_params("iommufd-allow_unsafe_interrupts=1", "iommufd.allow_unsafe_interrupts")
                  .empty());
  EXPECT_EQ(
      cmdline_params("iommufd.allow-unsafe_interrupts", "iommufd.allow_unsafe_interrupts").size(),
      1u);
  EXPECT_TRUE(cmdline_params("", "iommufd.allow_unsafe_interrupts").empty());
}

TEST(KernelCmdline, DriverOptionsInOrderAcrossWords) {
  const std::string cmdline =
      "intel_iommu=on,sm_off quiet intel_iommu=sm_on,,igfx_off intel_iommu intel_iommu= "
      "intel-iommu=sm_off intel_iommux=sm_off amd_iommu=pgtbl_v2\n";
  EXPECT_EQ(cmdline_driver_options(cmdline, "intel_iommu"),
            (Views{"on", "sm_off", "sm_on", "", "igfx_off"}));
  EXPECT_EQ(cmdline_driver_options(cmdline, "amd_iommu"), Views{"pgtbl_v2"});
  EXPECT_EQ(cmdline_driver_options(cmdline, "iommu"), Views{});
  EXPECT_EQ(cmdline_driver_options("amd_iommu=pgtbl_v1,", "amd_iommu"), Views{"pgtbl_v1"});
}

TEST(KernelCmdline, UnsignedIntAsKstrtouint) {
  EXPECT_EQ(parse_kernel_uint("0"), 0u);
  EXPECT_EQ(parse_kernel_uint("+0"), 0u);
  EXPECT_EQ(parse_kernel_uint("010"), 8u);  // a leading 0 is octal
  EXPECT_EQ(parse_kernel_uint("0x400"), 0x400u);
  EXPECT_EQ(parse_kernel_uint("0XfF"), 0xffu);
  EXPECT_EQ(parse_kernel_uint("4294967295"), UINT32_MAX);
  EXPECT_EQ(parse_kernel_uint("0xffffffff"), UINT32_MAX);
  for (const char* bad : {"", "+", "-1", "0x", "08", "0x1g", "1 ", " 1", "4294967296",
                          "0x100000000", "18446744073709551616", "1e3", "++1"})
    EXPECT_FALSE(parse_kernel_uint(bad)) << "'" << bad << "'";
}

RC_GTEST_PROP(KernelCmdline, UnsignedIntReadsWhatPrintfWrites, (uint32_t value)) {
  char buf[40];
  for (const char* format : {"%" PRIu32, "+%" PRIu32, "0x%" PRIx32, "0X%" PRIX32, "0%" PRIo32}) {
    std::snprintf(buf, sizeof buf, format, value);
    RC_ASSERT(parse_kernel_uint(buf) == std::optional<uint32_t>(value));
  }
}

RC_GTEST_PROP(KernelCmdline, UnsignedIntRefusesWhatIsPast32Bits, (uint32_t high, uint32_t low)) {
  RC_PRE(high != 0);
  const uint64_t value = (uint64_t{high} << 32) | low;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%" PRIu64, value);
  RC_ASSERT(!parse_kernel_uint(buf));
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, value);
  RC_ASSERT(!parse_kernel_uint(buf));
}

// kstrtobool's table, written out: the first character decides, 'o' looks at the second.
std::optional<bool> bool_model(std::string_view t) {
  const std::string_view yes = "yYtTeE1", no = "nNfFdD0";
  if (t.empty()) return std::nullopt;
  if (yes.find(t[0]) != std::string_view::npos) return true;
  if (no.find(t[0]) != std::string_view::npos) return false;
  if ((t[0] == 'o' || t[0] == 'O') && t.size() > 1) {
    if (t[1] == 'n' || t[1] == 'N') return true;
    if (t[1] == 'f' || t[1] == 'F') return false;
  }
  return std::nullopt;
}

TEST(KernelCmdline, BoolAsKstrtobool) {
  for (auto [text, want] : {std::pair{"Y", true},
                            {"yes", true},
                            {"t", true},
                            {"1", true},
                            {"on", true},
                            {"ON", true},
                            {"enable", true},
                            {"N", false},
                            {"off", false},
                            {"f", false},
                            {"0", false},
                            {"disabled", false}}) {
    EXPECT_EQ(parse_kernel_bool(text), want) << text;
  }
  for (const char* bad : {"", "o", "ox", "maybe", "2", " y"})
    EXPECT_FALSE(parse_kernel_bool(bad)) << "'" << bad << "'";
  // Every one- and two-character text against the table.
  for (int a = 0; a < 256; ++a) {
    std::string one(1, static_cast<char>(a));
    EXPECT_EQ(parse_kernel_bool(one), bool_model(one)) << a;
    for (int b = 0; b < 256; ++b) {
      std::string two = one + static_cast<char>(b);
      ASSERT_EQ(parse_kernel_bool(two), bool_model(two)) << a << " " << b;
    }
  }
}

}  // namespace
}  // namespace iovamap
