// --format svg (svg_output.cc): byte-exact golden pictures of regions, ranges and vm-check on
// the real intel39 snapshot (tests/data/svg/), each parsed as XML by libxml2, self-contained,
// strings from the host and the VM escaped, the refused VM mappings red and the fixed VM's not.
// IOVAMAP_UPDATE_GOLDEN=1 rewrites the golden files; tests/svg_render_test.py renders them in
// headless Chromium.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#ifdef IOVAMAP_HAVE_LIBXML2
#include <libxml/parser.h>
#include <libxml/tree.h>
#endif

#include "run_for_test.h"

namespace iovamap {
namespace {

namespace fs = std::filesystem;

const std::string kSnap = "snapshots/6.12-intel39/root";

// The golden runs, with the snapshot named as from the top of the repository.
std::vector<std::string> host_args() {
  return {"--root",      std::string(IOVAMAP_TEST_DATA) + "/" + kSnap,
          "--dma-limit", "01:00.0=36",
          "--format",    "svg"};
}

// Looking Glass on the intel39 host (as vm_check_test.cc): the ivshmem BAR refused (fatal),
// the GPU BAR refused (warning), RAM accepted.
const std::vector<std::string> kLookingGlass = {
    "vm-check",    "--host-phys-bits",
    "46",          "--host-cpu-vendor",
    "intel",       "--bar",
    "00:04.0=16G", "--",
    "-M",          "pc-q35-7.2",
    "-m",          "16G",
    "-cpu",        "host",
    "-drive",      "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
    "-object",     "memory-backend-file,id=lg,mem-path=/dev/shm/looking-glass,size=32M,share=on",
    "-device",     "ivshmem-plain,memdev=lg,id=kvmfr",
    "-device",     "vfio-pci,host=0000:00:04.0"};

CliRun run_svg(std::vector<std::string> command) {
  std::vector<std::string> args = host_args();
  args.insert(args.end(), command.begin(), command.end());
  CliRun r = run(args);
  // The snapshot's absolute path, as the repository names it.
  std::string abs = std::string(IOVAMAP_TEST_DATA) + "/";
  for (size_t at; (at = r.out.find(abs)) != std::string::npos;)
    r.out.replace(at, abs.size(), "tests/data/");
  return r;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void expect_golden(const std::string& name, const std::string& svg) {
  fs::path golden = fs::path(IOVAMAP_TEST_DATA) / "svg" / name;
  if (std::getenv("IOVAMAP_UPDATE_GOLDEN")) std::ofstream(golden, std::ios::binary) << svg;
  EXPECT_EQ(svg, read(golden)) << name << ": rerun with IOVAMAP_UPDATE_GOLDEN=1 if intended";
}

// Well-formed XML whose root is an SVG element; the libxml2 message when not.
std::string xml_problem(const std::string& svg) {
#ifdef IOVAMAP_HAVE_LIBXML2
  xmlDocPtr doc = xmlReadMemory(svg.data(), static_cast<int>(svg.size()), "out.svg", nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!doc) {
    const xmlError* e = xmlGetLastError();
    return e && e->message ? e->message : "not XML";
  }
  xmlNodePtr root = xmlDocGetRootElement(doc);
  std::string problem;
  if (!root || std::string(reinterpret_cast<const char*>(root->name)) != "svg" || !root->ns ||
      std::string(reinterpret_cast<const char*>(root->ns->href)) != "http://www.w3.org/2000/svg")
    problem = "the root is not an SVG element";
  xmlFreeDoc(doc);
  return problem;
#else
  (void)svg;
  return "";
#endif
}

// Nothing a browser would fetch or run.
void expect_self_contained(const std::string& svg) {
  for (const char* bad : {"<script", "href", "url(", "@import", "@font-face", "<image", "onload"})
    EXPECT_EQ(svg.find(bad), std::string::npos) << bad;
}

TEST(Svg, RegionsGolden) {
  CliRun r = run_svg({"regions", "7"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(xml_problem(r.out), "");
  expect_self_contained(r.out);
  // The MSI window (blue), the aperture, and the device's 36-bit limit.
  EXPECT_NE(r.out.find("fill=\"#1e88e5\""), std::string::npos);
  EXPECT_NE(r.out.find("group 7 aperture"), std::string::npos);
  EXPECT_NE(r.out.find("0000:01:00.0 DMA limit"), std::string::npos);
  expect_golden("regions-intel39.svg", r.out);
}

TEST(Svg, RangesGolden) {
  CliRun r = run_svg({"ranges", "01:00.0"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(xml_problem(r.out), "");
  expect_self_contained(r.out);
  EXPECT_NE(r.out.find(">0xfef00000<"), std::string::npos) << "an address label";
  expect_golden("ranges-intel39.svg", r.out);
}

TEST(Svg, VmCheckGoldenRedWhereRefused) {
  CliRun r = run_svg(kLookingGlass);
  EXPECT_EQ(r.status, 1) << r.err;  // the VM will not start
  EXPECT_EQ(xml_problem(r.out), "");
  expect_self_contained(r.out);
  EXPECT_NE(r.out.find("fill=\"#d32f2f\""), std::string::npos) << "the ivshmem BAR, fatal";
  EXPECT_NE(r.out.find("fill=\"#ff7043\""), std::string::npos) << "the GPU BAR, a warning";
  EXPECT_NE(r.out.find("the VM will NOT start (1 fatal, 1 warning)"), std::string::npos);
  EXPECT_NE(r.out.find("-cpu host,host-phys-bits-limit=39"), std::string::npos) << "the fix";
  expect_golden("vm-check-looking-glass.svg", r.out);
  // The README shows this picture from docs/.
  EXPECT_EQ(read(fs::path(IOVAMAP_SOURCE_DIR) / "docs/vm-check-looking-glass.svg"), r.out)
      << "cp tests/data/svg/vm-check-looking-glass.svg docs/";

  // The fixed VM: nothing red, nothing orange.
  std::vector<std::string> fixed = kLookingGlass;
  *std::find(fixed.begin(), fixed.end(), "host") = "host,host-phys-bits-limit=39";
  CliRun ok = run_svg(fixed);
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_EQ(ok.out.find("fill=\"#d32f2f\""), std::string::npos);
  EXPECT_EQ(ok.out.find("fill=\"#ff7043\""), std::string::npos);
  EXPECT_EQ(xml_problem(ok.out), "");
}

TEST(Svg, SameAnswerSameBytes) {
  EXPECT_EQ(run_svg(kLookingGlass).out, run_svg(kLookingGlass).out);
}

TEST(Svg, HostileVmFileNameIsEscaped) {
  // The title names the VM file: markup, a control character and a byte that is not UTF-8.
  fs::path dir = fs::temp_directory_path() / ("iovamap-svg-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path file = dir / "a&b<c>\"d'\x01\xff.sh";
  std::ofstream(file) << "qemu-system-x86_64 -m 4G -device vfio-pci,host=00:04.0\n";
  CliRun r = run_svg({"vm-check", "--host-phys-bits", "46", "--qemu", file.string()});
  fs::remove_all(dir);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(xml_problem(r.out), "") << r.out;
  EXPECT_NE(r.out.find("a&amp;b&lt;c&gt;&quot;d&apos;\xef\xbf\xbd\xef\xbf\xbd.sh"),
            std::string::npos);
}

TEST(Svg, OtherCommandsAreRefusedWithTheFormatNamed) {
  CliRun r = run_svg({"list"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("--format svg is for regions, ranges and vm-check, not list"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace iovamap
