// Hostile input, faults and scale (issue 13), through the whole command: strings from a host
// that are not UTF-8 or hold terminal escapes, files that never end or block, output that
// cannot be written, bad lines late in a long map, snapshots killed or pointed nowhere. Each
// test here failed before its fix.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "run_for_test.h"
#include "test_tree.h"

namespace iovamap {
namespace {

namespace fs = std::filesystem;

void write_file(const fs::path& p, const std::string& text) {
  fs::remove(p);  // a snapshot's files may be read-only copies
  std::ofstream(p, std::ios::binary) << text;
}

// A writable copy of a real snapshot's root at `dir`.
fs::path copy_snapshot(const std::string& name, const fs::path& dir) {
  fs::copy(snapshot(name) + "/root", dir,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  return dir;
}

TEST(HostileInput, BytesThatAreNotUtf8AreRepairedInJsonAndEscapedInText) {
  TempDir tmp;
  fs::path root = copy_snapshot("6.12-intel39", tmp.path() / "r\xff");
  write_file(root / "sys/kernel/iommu_groups/7/type", "DMA\xff\x1b[31m\n");
  write_file(root / "proc/cmdline", "BOOT_IMAGE=/vmlinuz vfio_iommu_type1.dma_entry_limit=\xe9\n");
  for (const char* command : {"list", "regions", "ranges"}) {
    std::vector<std::string> args = {"--root", root.string(), "--format", "json", command};
    if (std::string(command) == "ranges") args.push_back("7");
    CliRun r = run(args);
    ASSERT_EQ(r.status, 0) << command << ": " << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out);  // valid UTF-8 JSON
    EXPECT_NE(j["notes"].dump().find("not UTF-8"), std::string::npos) << r.out;
  }
  CliRun text = run({"--root", root.string(), "list"});
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_EQ(text.out.find('\x1b'), std::string::npos) << "a terminal escape reached the output";
  EXPECT_NE(text.out.find("DMA\\xff\\x1b[31m"), std::string::npos) << text.out;
}

TEST(HostileInput, FilesThatNeverEndOrBlockAreRefused) {
  TempDir tmp;
  std::string fifo = (tmp.path() / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string root = snapshot("6.12-intel39") + "/root";
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  for (const Case& c : std::vector<Case>{
           {{"--topology", "/dev/zero", "list"}, "/dev/zero: a character device"},
           {{"--topology", fifo, "list"}, "a FIFO"},
           {{"--root", root, "check", "7", "--map", "/dev/zero"}, "a character device"},
           {{"--root", root, "check", "7", "--map", fifo}, "a FIFO"},
           {{"--root", root, "check", "7", "--map", tmp.path().string()}, "is a directory"},
       }) {
    CliRun r = run(c.args);
    EXPECT_EQ(r.status, 2) << ::testing::PrintToString(c.args);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
  }
  // stdin closed: an error, not an empty map that passes.
  tool::StringSink out;
  std::ostringstream err;
  int closed = ::open("/dev/null", O_RDONLY);
  ::close(closed);
  int status = tool::run_tool({"iovamap", "--root", root, "check", "7", "--map", "-"}, closed, out,
                              err, nullptr);
  EXPECT_EQ(status, 2);
  EXPECT_EQ(out.text, "");
  EXPECT_NE(err.str().find("<stdin>: Bad file descriptor (closed)"), std::string::npos)
      << err.str();
}

TEST(HostileInput, CheckAnswersNothingWhenALateLineIsBad) {
  std::string root = snapshot("6.12-intel39") + "/root";
  std::string map;
  for (int i = 0; i < 3000; ++i) map += "0x" + std::to_string(i + 1) + "000 4K\n";
  CliRun good = run({"--root", root, "check", "7", "--map", "-"}, map);
  EXPECT_EQ(good.status, 0) << good.err;
  EXPECT_EQ(std::count(good.out.begin(), good.out.end(), '\n'), 3000);
  for (const char* format : {"text", "json"}) {
    CliRun bad = run({"--root", root, "--format", format, "check", "7", "--map", "-"},
                     map + "0x5000 lots\n");
    EXPECT_EQ(bad.status, 2);
    EXPECT_EQ(bad.out, "") << "verdicts were written before the bad line was seen";
    EXPECT_NE(bad.err.find("<stdin>:3001: size"), std::string::npos) << bad.err;
  }
  // Streamed JSON is the same document, compact or indented.
  CliRun compact = run({"--root", root, "--format", "json", "check", "7", "--map", "-"}, map);
  CliRun pretty =
      run({"--root", root, "--format", "json", "--pretty", "check", "7", "--map", "-"}, map);
  ASSERT_EQ(compact.status, 0) << compact.err;
  EXPECT_EQ(std::count(compact.out.begin(), compact.out.end(), '\n'), 1);
  EXPECT_EQ(nlohmann::ordered_json::parse(compact.out), nlohmann::ordered_json::parse(pretty.out));
  EXPECT_EQ(nlohmann::json::parse(compact.out)["mappings"].size(), 3000u);
}

TEST(HostileInput, OutputThatCannotBeWrittenIsAnError) {
  const char* binary = std::getenv("IOVAMAP_BINARY");
  if (!binary) GTEST_SKIP() << "IOVAMAP_BINARY is not set (ctest sets it)";
  std::string root = snapshot("6.12-intel39") + "/root";
  TempDir tmp;
  std::string err = (tmp.path() / "err").string();
  for (const char* redirect : {">/dev/full", ">&-"}) {
    std::string empty_map = (tmp.path() / "empty.map").string();
    write_file(empty_map, "");
    for (std::string command : {std::string("list"), std::string("--format json list"),
                                std::string("--help"), "check 7 --map " + empty_map}) {
      std::string line =
          std::string(binary) + " --root " + root + " " + command + " " + redirect + " 2>" + err;
      int status = std::system(line.c_str());
      ASSERT_TRUE(WIFEXITED(status)) << line;
      EXPECT_EQ(WEXITSTATUS(status), 2) << line;
      std::ifstream in(err);
      std::string said((std::istreambuf_iterator<char>(in)), {});
      EXPECT_NE(said.find("writing the output failed"), std::string::npos) << line << ": " << said;
    }
  }
}

TEST(HostileInput, VerifyWritesNothingWhenItCannotAsk) {
  for (const char* snap : {"lab-noiommu-612", "lab-intel39-612"}) {
    std::string root = std::string(IOVAMAP_TEST_DATA) + "/" + snap + "/root";
    CliRun r = run(
        {"--root", root, "verify", "--probe", snap == std::string("lab-noiommu-612") ? "0" : "7"});
    if (r.status == 0 || r.status == 1) GTEST_SKIP() << "this machine has VFIO: " << r.out;
    EXPECT_EQ(r.status, 2) << snap;
    EXPECT_EQ(r.out, "") << snap;
  }
}

TEST(HostileInput, SnapshotsOfBadNamesAndDeadWorkingDirectories) {
  TempDir tmp;
  fs::path source = copy_snapshot("6.12-amd", tmp.path() / "src\xff");
  CliRun ok = run({"--root", source.string(), "snapshot", (tmp.path() / "out").string()});
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_TRUE(fs::exists(tmp.path() / "out/manifest.json"));
  CliRun empty = run({"--root", source.string(), "snapshot", ""});
  EXPECT_EQ(empty.status, 2);
  EXPECT_NE(empty.err.find("empty directory name"), std::string::npos) << empty.err;
  // A working directory left by a snapshot that was killed: its owner is gone.
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  fs::path dead = tmp.path() / (".x.partial-" + std::to_string(child) + "-1-abcdef");
  // This process, with its real start time (/proc/self/stat field 22): alive.
  std::ifstream stat("/proc/self/stat");
  std::string line((std::istreambuf_iterator<char>(stat)), {});
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 22; ++i) fields >> field;
  fs::path alive =
      tmp.path() / (".y.partial-" + std::to_string(::getpid()) + "-" + field + "-abcdef");
  fs::path other = tmp.path() / ".not-ours";
  for (const fs::path& p : {dead, alive, other}) fs::create_directories(p / "sys");
  CliRun again = run({"--root", source.string(), "snapshot", (tmp.path() / "out2").string()});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_FALSE(fs::exists(dead)) << "a dead snapshot's working directory was left";
  EXPECT_TRUE(fs::exists(alive)) << "a live process's directory was removed";
  EXPECT_TRUE(fs::exists(other));
  EXPECT_NE(again.out.find("did not finish"), std::string::npos) << again.out;
  for (const auto& e : fs::directory_iterator(tmp.path()))
    EXPECT_EQ(e.path().filename().string().find(".out"), std::string::npos)
        << "left behind: " << e.path();
}

TEST(HostileInput, SmallerMistakesGetClearAnswers) {
  TempDir tmp;
  // A CRLF line in reserved_regions: the type is shown with its \r, the valid ones are sysfs's.
  fs::path root = copy_snapshot("6.12-intel39", tmp.path() / "crlf");
  write_file(root / "sys/kernel/iommu_groups/7/reserved_regions",
             "0x00000000fee00000 0x00000000feefffff msi\r\n");
  CliRun crlf = run({"--root", root.string(), "regions", "7"});
  EXPECT_EQ(crlf.status, 2);
  EXPECT_NE(crlf.err.find("'msi\\r'"), std::string::npos) << crlf.err;
  EXPECT_NE(crlf.err.find("direct, direct-relaxable, reserved or msi)"), std::string::npos)
      << crlf.err;
  // A kernel version of 4 MiB: the message shows a bounded part of it.
  fs::path big = copy_snapshot("6.12-intel39", tmp.path() / "big");
  write_file(big / "proc/sys/kernel/osrelease", std::string(4 << 20, '9') + "\n");
  CliRun huge = run({"--root", big.string(), "list"});
  EXPECT_EQ(huge.status, 2);
  EXPECT_LT(huge.err.size(), 400u) << huge.err.substr(0, 400);
  // A group directory the kernel would not name ("007" beside "7") is not a second group 7.
  fs::path odd = copy_snapshot("6.12-intel39", tmp.path() / "odd");
  fs::create_directory_symlink("7", odd / "sys/kernel/iommu_groups/007");
  CliRun groups = run({"--root", odd.string(), "--format", "json", "list"});
  ASSERT_EQ(groups.status, 0) << groups.err;
  nlohmann::json j = nlohmann::json::parse(groups.out);
  EXPECT_EQ(j["groups"].size(), 9u);
  EXPECT_NE(j["notes"].dump().find("007: not a group number"), std::string::npos) << j["notes"];
  // Topologies: a device twice in a group, 65 bits, a kernel before 5.4.
  std::string unit = "[[iommu]]\nname = \"dmar0\"\ndriver = \"intel\"\naddress-bits = 39\n";
  std::string topology = (tmp.path() / "t.toml").string();
  write_file(topology, unit +
                           "[[group]]\nid = 1\niommu = \"dmar0\"\n"
                           "[[group.device]]\nbdf = \"0000:00:03.0\"\n"
                           "[[group.device]]\nbdf = \"0000:00:03.0\"\n");
  CliRun twice = run({"--topology", topology, "list"});
  EXPECT_EQ(twice.status, 2);
  EXPECT_NE(twice.err.find("listed twice in group 1"), std::string::npos) << twice.err;
  write_file(topology, unit +
                           "[[group]]\nid = 1\niommu = \"dmar0\"\n"
                           "[[group.device]]\nbdf = \"0000:00:03.0\"\ndma-bits = 65\n");
  CliRun bits = run({"--topology", topology, "list"});
  EXPECT_NE(bits.err.find("'dma-bits' must be 1 to 64"), std::string::npos) << bits.err;
  write_file(topology, "kernel = \"5.2\"\n" + unit +
                           "[[group]]\nid = 1\niommu = \"dmar0\"\n"
                           "[[group.device]]\nbdf = \"0000:00:03.0\"\n");
  CliRun old = run({"--topology", topology, "ranges", "1"});
  EXPECT_EQ(old.status, 0) << old.err;
  EXPECT_EQ(old.out.find("total 0 B"), std::string::npos) << old.out;
  EXPECT_NE(old.out.find("keeps no IOVA list before 5.4"), std::string::npos) << old.out;
}

TEST(HostileInput, GetInfoBytesHoldNoGuessedPageSizes) {
  CliRun r =
      run({"--root", snapshot("6.12-virtio") + "/root", "--format", "json", "info-cap", "3"});
  ASSERT_EQ(r.status, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  std::string bytes = j["bytes"];
  EXPECT_EQ(bytes.substr(16, 16), "0000000000000000") << "iova_pgsizes holds a guess";
  bool marked = false;
  for (const auto& u : j["undefined"]) marked = marked || (u["first"] == 8 && u["last"] == 15);
  EXPECT_TRUE(marked) << j["undefined"];
}

// The same reproduction with a `direct` region: the 6.12 kernel refuses the group to VFIO
// (claiming its DMA fails with EINVAL), so ranges, check and info-cap refuse alike and
// assignable names the region.
TEST(ObservedRegions, ADirectOneRefusesTheGroupInEveryCommand) {
  TempDir tmp;
  fs::path root = tmp.path() / "root";
  fs::copy(std::string(IOVAMAP_TEST_DATA) + "/lab-intel39-612/root", root,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::path file = root / "sys/kernel/iommu_groups/4/reserved_regions";
  write_file(file,
             "0x0000000080000000 0x000000008fffffff direct\n"
             "0x00000000fee00000 0x00000000feefffff msi\n");
  std::string r = root.string();
  for (std::vector<std::string> args : {std::vector<std::string>{"ranges", "4"},
                                        {"ranges", "--iommufd", "4"},
                                        {"info-cap", "4"},
                                        {"check", "4", "--map", "-"}}) {
    std::vector<std::string> full = {"--root", r, "--format", "json"};
    full.insert(full.end(), args.begin(), args.end());
    CliRun run_json = run(full, "0x100000 0x1000\n");
    EXPECT_EQ(run_json.status, 1) << args[0] << run_json.err;
    EXPECT_NE(run_json.out.find("\"errno\":\"EINVAL\""), std::string::npos)
        << args[0] << ": " << run_json.out;
  }
  CliRun a = run({"--root", r, "assignable", "4"});
  EXPECT_EQ(a.status, 1);
  EXPECT_NE(a.out.find("VFIO type1: REFUSED"), std::string::npos) << a.out;
  EXPECT_NE(a.out.find("(EINVAL, firmware-direct): reserved region [0x80000000, 0x8fffffff]"),
            std::string::npos)
      << a.out;
  // Group 6 (no such region) is taken.
  CliRun b = run({"--root", r, "assignable", "6"});
  EXPECT_EQ(b.status, 0) << b.out;
}

}  // namespace
}  // namespace iovamap

namespace iovamap {
namespace {

// A region the model cannot explain (a real RMRR, IVMD or RMR, a patched kernel, a newer
// kernel's new region) keeps the kernel's type and is cut out of the usable space by every
// command, whichever device comes first in its group (issue 10's reproduction).
TEST(ObservedRegions, KeepTheKernelsTypeAndAreNeverUsable) {
  TempDir tmp;
  fs::path root = tmp.path() / "root";
  fs::copy(std::string(IOVAMAP_TEST_DATA) + "/lab-intel39-612/root", root,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  const std::string line = "0x0000000080000000 0x000000008fffffff reserved\n";
  for (const char* group : {"6", "4"}) {  // 6: the UHCI controller comes first; 4: e1000
    fs::path file = root / "sys/kernel/iommu_groups" / group / "reserved_regions";
    std::ifstream in(file);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    in.close();
    // Sorted by start, as the kernel prints them.
    std::vector<std::string> lines;
    std::istringstream split(text + line);
    for (std::string l; std::getline(split, l);) lines.push_back(l + "\n");
    std::sort(lines.begin(), lines.end());
    std::string sorted;
    for (const std::string& l : lines) sorted += l;
    write_file(file, sorted);
    CliRun sysfs =
        run({"--root", root.string(), "--policy", "kernel", "--format", "sysfs", "regions", group});
    ASSERT_EQ(sysfs.status, 0) << sysfs.err;
    EXPECT_EQ(sysfs.out, sorted) << "group " << group;
    for (const char* policy : {"kernel", "rfc", "rfc-fixed", "effective"}) {
      for (bool iommufd : {false, true}) {
        std::vector<std::string> args = {"--root",   root.string(), "--policy", policy,
                                         "--format", "sysfs",       "ranges",   group};
        if (iommufd) args.push_back("--iommufd");
        CliRun r = run(args);
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_EQ(r.out.find("0x000000008"), std::string::npos)
            << "group " << group << " " << policy << (iommufd ? " iommufd" : "") << ":\n"
            << r.out;
        EXPECT_NE(r.out.find("0x000000007fffffff\n"), std::string::npos) << r.out;
      }
      CliRun check = run({"--root", root.string(), "--policy", policy, "--format", "json", "check",
                          group, "--map", "-"},
                         "0x80000000 0x1000\n");
      EXPECT_EQ(check.status, 1) << check.out << check.err;
    }
    CliRun json = run({"--root", root.string(), "--format", "json", "regions", group});
    EXPECT_NE(json.out.find("\"origin\":\"observed\""), std::string::npos) << json.out;
    EXPECT_NE(json.out.find("not derived"), std::string::npos) << json.out;
  }
}

}  // namespace
}  // namespace iovamap
