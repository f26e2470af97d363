// The iovamap command, in-process: byte-exact golden tests against the three real 6.12
// snapshots (expected/ holds what the kernel itself printed and what VFIO returned), exit
// statuses, errors on stderr, and every command on topologies.
#include "tool.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pci_names.h"
#include "run_for_test.h"
#include "test_tree.h"

namespace iovamap {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Groups of a snapshot with an expected file of this kind ("reserved_regions", "vfio_ranges").
std::vector<std::string> expected_groups(const std::string& snap, const std::string& kind) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(snapshot(snap) + "/expected")) {
    std::string name = e.path().filename().string();
    if (name.rfind(kind + ".", 0) == 0) out.push_back(name.substr(kind.size() + 1));
  }
  std::sort(out.begin(), out.end());
  return out;
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, RegionsMatchTheKernelsFileByteForByte) {
  const std::string snap = GetParam();
  std::vector<std::string> groups = expected_groups(snap, "reserved_regions");
  ASSERT_FALSE(groups.empty());
  for (const std::string& g : groups) {
    CliRun r = run({"--root", snapshot(snap) + "/root", "--policy", "kernel", "--format", "sysfs",
                    "regions", g});
    EXPECT_EQ(r.status, 0) << r.err;
    std::string expected = read(snapshot(snap) + "/expected/reserved_regions." + g);
    EXPECT_EQ(r.out, expected) << snap << " group " << g;
  }
}

TEST_P(Golden, RangesMatchWhatVfioReturned) {
  const std::string snap = GetParam();
  std::vector<std::string> groups = expected_groups(snap, "vfio_ranges");
  ASSERT_FALSE(groups.empty());
  for (const std::string& g : groups) {
    CliRun r = run({"--root", snapshot(snap) + "/root", "--policy", "kernel", "--format", "sysfs",
                    "ranges", g});
    EXPECT_EQ(r.status, 0) << r.err;
    std::string expected = read(snapshot(snap) + "/expected/vfio_ranges." + g);
    EXPECT_EQ(r.out, expected) << snap << " group " << g;
  }
}

// The golden answers must come from the driver model, not from echoing the observed file:
// on Intel and AMD the model explains every observed region.
TEST_P(Golden, ModelExplainsTheObservedRegions) {
  const std::string snap = GetParam();
  CliRun r = run({"--root", snapshot(snap) + "/root", "--format", "json", "list"});
  ASSERT_EQ(r.status, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  for (const auto& note : j["notes"]) {
    // virtio-iommu PROBE regions are not in sysfs: they can only be explained from the
    // observed list (explain_observed_regions), which says so in a note.
    if (snap == "6.12-virtio") continue;
    ADD_FAILURE() << snap << ": " << note;
  }
}

TEST(Cli, ObservedRegionNotesOnlyForTheGroupsAsked) {
  // Every group of the virtio snapshot keeps its PROBE region as observed, with a note each.
  std::string root = snapshot("6.12-virtio") + "/root";
  auto notes = [](const std::string& out) {
    std::vector<std::string> n;
    std::istringstream lines(out);
    for (std::string s; std::getline(lines, s);)
      if (s.rfind("note: group ", 0) == 0) n.push_back(s);
    return n;
  };
  CliRun list = run({"--root", root, "list"});
  EXPECT_EQ(notes(list.out).size(), 7u) << list.out;
  CliRun ranges = run({"--root", root, "ranges", "3"});
  ASSERT_EQ(notes(ranges.out).size(), 1u) << ranges.out;
  EXPECT_EQ(notes(ranges.out)[0].rfind("note: group 3: ", 0), 0u) << ranges.out;
  CliRun regions = run({"--root", root, "regions", "3", "4"});
  EXPECT_EQ(notes(regions.out).size(), 2u) << regions.out;
  CliRun all = run({"--root", root, "regions"});
  EXPECT_EQ(notes(all.out).size(), 7u) << all.out;
}

INSTANTIATE_TEST_SUITE_P(Snapshots612, Golden,
                         ::testing::Values("6.12-intel39", "6.12-amd", "6.12-virtio"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (char& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(Cli, SeveralGroupsInSysfsFormatAreHeadedByTheirNumber) {
  CliRun r = run({"--root", snapshot("6.12-intel39") + "/root", "--policy", "kernel", "--format",
                  "sysfs", "regions", "6", "7"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "# group 6\n"
            "0x0000000000000000 0x0000000000ffffff direct-relaxable\n"
            "0x00000000fee00000 0x00000000feefffff msi\n"
            "# group 7\n"
            "0x00000000fee00000 0x00000000feefffff msi\n");
}

TEST(Cli, BadUsageAndBadInputExitTwoOnStderr) {
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  std::string root = snapshot("6.12-intel39") + "/root";
  for (const Case& c : std::vector<Case>{
           {{}, "a command is required: list, regions, ranges"},
           {{"frobnicate"}, "'frobnicate' is not a command"},
           {{"--root", root, "rnages", "7"}, "'rnages' is not a command; did you mean 'ranges'?"},
           {{"--root", root, "--policy", "kernel", "regoins"}, "did you mean 'regions'?"},
           {{"--root", root, "ranges"}, "no group or device given"},
           {{"--root", root, "ranges", "7", "--frob"}, "--frob"},
           {{"--root", root, "ranges", "99"}, "no group 99"},
           {{"--root", root, "ranges", "x"}, "'x' is not a group number"},
           {{"--root", root, "ranges", "7", "7"}, "given twice"},
           {{"--root", root, "--policy", "lax", "list"}, "lax"},
           {{"--root", root, "--format", "sysfs", "list"}, "--format sysfs is for"},
           {{"--root", root, "--dma-limit", "0000:01:00.0=65", "list"}, "1 to 64"},
           {{"--root", root, "--dma-limit", "0000:09:00.0=40", "list"},
            "no device matches '0000:09:00.0'"},
           {{"--root", root, "--dma-limit", "01:00.0=40", "--dma-limit", "0000:01:00.0=36", "list"},
            "01:00.0=40"},
           {{"--root", root, "ranges", "01:00.1"}, "no device matches '01:00.1'"},
           {{"--root", "/nonexistent/dir", "list"}, "/nonexistent/dir"},
           {{"--topology", "/nonexistent.toml", "list"}, "/nonexistent.toml: cannot open"},
           {{"--root", root, "--topology", "x", "list"}, "excludes"},
           {{"--root", root, "check", "7", "--map", "/nonexistent.map"}, "/nonexistent.map"},
       }) {
    CliRun r = run(c.args);
    EXPECT_EQ(r.status, 2) << ::testing::PrintToString(c.args);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find(c.expect), std::string::npos)
        << ::testing::PrintToString(c.args) << " => " << r.err;
  }
  CliRun bad_map = run({"--root", root, "check", "7", "--map", "-"}, "0x1000 4096\n0x2000 lots\n");
  EXPECT_EQ(bad_map.status, 2);
  EXPECT_NE(bad_map.err.find("<stdin>:2: size"), std::string::npos) << bad_map.err;
}

// Devices by address, short or full, and by id select what their group number selects; a
// DMA limit takes the same forms.
TEST(Cli, DevicesByAddressAndIdSelectTheirGroup) {
  std::string root = snapshot("6.12-intel39") + "/root";
  CliRun by_group = run({"--root", root, "ranges", "7"});
  ASSERT_EQ(by_group.status, 0) << by_group.err;
  for (std::vector<std::string> args : {std::vector<std::string>{"ranges", "01:00.0"},
                                        {"ranges", "0000:01:00.0"},
                                        {"-d", "8086:10d3", "ranges"},
                                        {"ranges", "-d", "8086:10d3"}}) {
    args.insert(args.begin(), {"--root", root});
    CliRun r = run(args);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, by_group.out) << ::testing::PrintToString(args);
  }
  CliRun short_limit = run({"--root", root, "--dma-limit", "01:00.0=36", "ranges", "01:00.0"});
  CliRun full_limit = run({"--root", root, "--dma-limit", "0000:01:00.0=36", "ranges", "7"});
  ASSERT_EQ(short_limit.status, 0) << short_limit.err;
  EXPECT_NE(short_limit.out.find("0xfef00000  0xfffffffff"), std::string::npos) << short_limit.out;
  EXPECT_NE(short_limit.out.find("declared by --dma-limit 01:00.0=36"), std::string::npos)
      << short_limit.out;
  EXPECT_EQ(short_limit.out.substr(0, short_limit.out.find("until reserved")),
            full_limit.out.substr(0, full_limit.out.find("until reserved")));
  // A device of a group with others brings the whole group, and says so.
  CliRun usb = run({"--root", root, "regions", "00:1d.0"});
  ASSERT_EQ(usb.status, 0) << usb.err;
  EXPECT_NE(usb.out.find("group 5"), std::string::npos) << usb.out;
  EXPECT_NE(usb.out.find("0000:00:1d.7"), std::string::npos) << usb.out;
}

TEST(Cli, PciBootConfigDecidesWhetherIortRmrsAreDerived) {
  // The lab's IORT RMR fixture: group 2 (virtio-net 02:00.0) has a direct RMR, given by the
  // kernel because the DSDT preserves the PCI boot configuration, which iovamap cannot read.
  std::string root = std::string(IOVAMAP_TEST_DATA) + "/lab-smmuv3acpirmr-612/root";
  CliRun unknown = run({"--root", root, "--format", "json", "regions", "2"});
  ASSERT_EQ(unknown.status, 0) << unknown.err;
  EXPECT_NE(unknown.out.find("covers stream 0x200 of 0000:02:00.0"), std::string::npos)
      << unknown.out;
  EXPECT_NE(unknown.out.find("\"observed\""), std::string::npos) << unknown.out;
  CliRun preserved =
      run({"--root", root, "--pci-boot-config", "preserved", "--format", "json", "regions", "2"});
  ASSERT_EQ(preserved.status, 0) << preserved.err;
  EXPECT_NE(preserved.out.find("IORT RMR node 4 at 0x144, range 0, stream 0x200"),
            std::string::npos)
      << preserved.out;
  EXPECT_EQ(preserved.out.find("\"observed\""), std::string::npos) << preserved.out;
  CliRun bad = run({"--root", root, "--pci-boot-config", "maybe", "regions", "2"});
  EXPECT_EQ(bad.status, tool::kExitError);
}

TEST(Cli, VersionAndNames) {
  CliRun v = run({"--version"});
  EXPECT_EQ(v.status, 0);
  EXPECT_EQ(v.out.rfind("iovamap ", 0), 0u) << v.out;
  // Names from the PCI ID database, as lspci prints them; -n leaves them out.
  std::unique_ptr<PciNames> names = PciNames::open();
  if (!names->has_names()) GTEST_SKIP() << "no PCI ID database: " << names->problem();
  std::string root = snapshot("6.12-intel39") + "/root";
  auto with_names = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"iovamap", "--root", root});
    tool::StringSink out;
    std::ostringstream err;
    int status = tool::run_tool(args, 0, out, err, names.get());
    EXPECT_EQ(status, 0) << err.str();
    return out.text;
  };
  std::string text = with_names({"list"});
  EXPECT_NE(text.find("Intel Corporation 82574L Gigabit Network Connection"), std::string::npos)
      << text;
  EXPECT_EQ(with_names({"-n", "list"}).find("Intel Corporation"), std::string::npos);
  nlohmann::json j = nlohmann::json::parse(with_names({"--format", "json", "list"}));
  bool found = false;
  for (const auto& g : j["groups"])
    for (const auto& d : g["devices"])
      if (d["name"] == "0000:01:00.0") {
        found = true;
        EXPECT_EQ(d["vendor_name"], "Intel Corporation");
        EXPECT_EQ(d["device_name"], "82574L Gigabit Network Connection");
        EXPECT_EQ(d["class"], "0x020000");
      }
  EXPECT_TRUE(found);
}

TEST(Cli, HelpOnEveryCommand) {
  for (const char* cmd : {"list", "regions", "ranges", "check", "info-cap", "snapshot"}) {
    CliRun r = run({cmd, "--help"});
    EXPECT_EQ(r.status, 0) << cmd;
    EXPECT_NE(r.out.find(cmd), std::string::npos) << r.out;
  }
  CliRun r = run({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("info-cap"), std::string::npos);
}

TEST(Cli, CheckAnswersEachMappingWithReasonAndPlacement) {
  std::string root = snapshot("6.12-intel39") + "/root";
  CliRun r = run({"--root", root, "--policy", "kernel", "check", "7", "--map", "-"},
                 "# a VMM's plan\n"
                 "0x0 0xfee00000\n"   // ok: right up to the MSI window
                 "0xfee00000 4K\n"    // in the MSI window
                 "0x7ffffff000 4K\n"  // last page of the aperture: ok
                 "0x8000000000 4K\n"  // past the 39-bit aperture
                 "0x100000800 4K\n"   // misaligned
                 "0xfedff000 8K\n");  // crosses into the window
  EXPECT_EQ(r.status, 1) << r.err;
  std::istringstream lines(r.out);
  std::vector<std::string> l;
  for (std::string s; std::getline(lines, s);) l.push_back(s);
  ASSERT_GE(l.size(), 6u) << r.out;
  EXPECT_NE(l[0].find("<stdin>:2"), std::string::npos) << l[0];
  EXPECT_NE(l[0].find(" ok"), std::string::npos) << l[0];
  EXPECT_NE(l[1].find("FAIL"), std::string::npos) << l[1];
  EXPECT_NE(l[1].find("msi region [0xfee00000, 0xfeefffff] of group 7"), std::string::npos) << l[1];
  EXPECT_NE(l[1].find("nearest placement that works: 0xfef00000"), std::string::npos) << l[1];
  EXPECT_NE(l[2].find(" ok"), std::string::npos) << l[2];
  EXPECT_NE(l[3].find("FAIL"), std::string::npos) << l[3];
  EXPECT_NE(l[3].find("nearest placement that works: 0x7fffffe000"), std::string::npos) << l[3];
  EXPECT_NE(l[4].find("FAIL"), std::string::npos) << l[4];
  EXPECT_NE(l[4].find("nearest placement that works: 0x100000000"), std::string::npos) << l[4];
  EXPECT_NE(l[5].find("FAIL"), std::string::npos) << l[5];

  CliRun ok = run({"--root", root, "--format", "json", "check", "7", "--map", "-"}, "0x0 1G\n");
  EXPECT_EQ(ok.status, 0) << ok.err;
  nlohmann::json j = nlohmann::json::parse(ok.out);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["mappings"][0]["iova"], "0x0");
  EXPECT_EQ(j["mappings"][0]["size"], "0x40000000");
}

TEST(Cli, CheckStopsAtTheMappingBudget) {
  std::string dir = ::testing::TempDir() + "/iovamap-budget";
  std::filesystem::create_directories(dir);
  const std::string topology = dir + "/budget.toml";
  std::ofstream(topology) << "dma-entry-limit = 2\n"
                             "[[iommu]]\nname = \"dmar0\"\ndriver = \"intel\"\naddress-bits = 39\n"
                             "[[group]]\nid = 1\niommu = \"dmar0\"\n"
                             "[[group.device]]\nbdf = \"0000:00:03.0\"\n";
  CliRun r = run({"--topology", topology, "--format", "json", "check", "1", "--map", "-"},
                 "0x100000 4K\n0x200000 4K\n0x300000 4K\n0xfee00000 4K\n");
  EXPECT_EQ(r.status, 1) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["mappings"][1]["ok"], true);
  EXPECT_EQ(j["mappings"][2]["ok"], false);
  EXPECT_EQ(j["mappings"][2]["refused"]["errno"], "ENOSPC") << j["mappings"][2];
  EXPECT_EQ(j["mappings"][2]["refused"]["code"], ENOSPC) << j["mappings"][2];
  EXPECT_EQ(j["mappings"][2]["refused"]["kind"], "refused") << j["mappings"][2];
  EXPECT_NE(j["mappings"][2]["refused"]["message"].get<std::string>().find("all 2 mappings"),
            std::string::npos)
      << j["mappings"][2];
  EXPECT_TRUE(j["mappings"][2]["nearest"].is_null());
  // In the MSI window, but the kernel counts the budget first (vfio_dma_do_map): ENOSPC too.
  EXPECT_EQ(j["mappings"][3]["refused"]["errno"], "ENOSPC") << j["mappings"][3];
  EXPECT_TRUE(j["mappings"][3]["nearest"].is_null()) << j["mappings"][3];
  CliRun text = run({"--topology", topology, "check", "1", "--map", "-"},
                    "0x100000 4K\n0x200000 4K\n0x300000 4K\n");
  EXPECT_NE(text.out.find("no placement works while the earlier mappings stay"), std::string::npos)
      << text.out;
}

TEST(Cli, UnisolatedMsiFailsTheAttachWithWhatToDo) {
  std::string dir = ::testing::TempDir() + "/iovamap-msi";
  std::filesystem::create_directories(dir);
  const std::string topology = dir + "/msi.toml";
  std::ofstream(topology) << "msi-isolated = false\n"
                             "[[iommu]]\nname = \"v\"\ndriver = \"virtio\"\naddress-bits = 48\n"
                             "[[group]]\nid = 1\niommu = \"v\"\n"
                             "[[group.device]]\nbdf = \"0000:00:03.0\"\n";
  for (std::vector<std::string> command : {std::vector<std::string>{"ranges", "1"},
                                           {"ranges", "--iommufd", "1"},
                                           {"info-cap", "1"},
                                           {"check", "1", "--map", "-"}}) {
    std::vector<std::string> args = {"--topology", topology};
    args.insert(args.end(), command.begin(), command.end());
    CliRun r = run(args, "0x100000 4K\n");
    // A refusal is an answer: on stdout, exit 1.
    EXPECT_EQ(r.status, 1) << command[0] << r.out << r.err;
    EXPECT_EQ(r.err, "") << command[0];
    bool fd = command[1] == "--iommufd";
    std::string module = fd ? "iommufd" : "vfio_iommu_type1";
    EXPECT_NE(r.out.find("refused (EPERM)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(module + ".allow_unsafe_interrupts is off"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("(from " + topology + ":1)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("echo 1 > /sys/module/" + module + "/parameters/allow_unsafe_interrupts"),
              std::string::npos)
        << r.out;
    // In JSON, the refusal is an object with the errno by name and number.
    args.insert(args.begin(), {"--format", "json"});
    CliRun j = run(args, "0x100000 4K\n");
    EXPECT_EQ(j.status, 1) << j.err;
    nlohmann::json doc = nlohmann::json::parse(j.out);
    EXPECT_EQ(doc["refused"]["errno"], "EPERM") << j.out;
    EXPECT_EQ(doc["refused"]["code"], EPERM) << j.out;
    EXPECT_EQ(doc["refused"]["kind"], "refused") << j.out;
  }
  // The parameter set: the attach works.
  std::string text = "allow-unsafe-interrupts = true\n";
  std::ifstream in(topology);
  text += std::string(std::istreambuf_iterator<char>(in), {});
  std::ofstream(topology) << text;
  EXPECT_EQ(run({"--topology", topology, "ranges", "1"}).status, 0);
  EXPECT_EQ(run({"--topology", topology, "ranges", "--iommufd", "1"}).status, 0);
}

TEST(Cli, EffectivePolicyCutsAtATrustedDmaLimit) {
  std::string root = snapshot("6.12-amd") + "/root";
  CliRun kernel = run({"--root", root, "--policy", "kernel", "--format", "sysfs", "ranges", "7"});
  ASSERT_EQ(kernel.status, 0) << kernel.err;
  EXPECT_EQ(kernel.out, read(snapshot("6.12-amd") + "/expected/vfio_ranges.7"));
  CliRun declared =
      run({"--root", root, "--dma-limit", "0000:01:00.0=40", "--format", "sysfs", "ranges", "7"});
  ASSERT_EQ(declared.status, 0) << declared.err;
  EXPECT_EQ(declared.out,
            "0x0000000000000000 0x00000000fedfffff\n"
            "0x00000000fef00000 0x000000fcffffffff\n");
  CliRun json =
      run({"--root", root, "--dma-limit", "0000:01:00.0=40", "--format", "json", "regions", "7"});
  nlohmann::json j = nlohmann::json::parse(json.out);
  bool found = false;
  for (const auto& region : j["groups"][0]["regions"])
    for (const auto& p : region["provenance"])
      if (p["origin"] == "dma-limit") found = true;
  EXPECT_TRUE(found) << json.out;
}

TEST(Cli, IommufdRangesOnASnapshot) {
  CliRun r = run({"--root", snapshot("6.12-intel39") + "/root", "--policy", "kernel", "--format",
                  "sysfs", "ranges", "--iommufd", "7"});
  ASSERT_EQ(r.status, 0) << r.err;
  // The lab measured the same ranges through iommufd as through type1 on this machine.
  EXPECT_EQ(r.out, read(snapshot("6.12-intel39") + "/expected/vfio_ranges.7"));
}

TEST(Cli, InfoCapBytes) {
  CliRun r =
      run({"--root", snapshot("6.12-intel39") + "/root", "--format", "json", "info-cap", "7"});
  ASSERT_EQ(r.status, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["layout"], "aligned");  // 6.12
  std::string bytes = j["bytes"];
  EXPECT_EQ(bytes.size(), 2 * static_cast<size_t>(j["argsz"]));
  CliRun packed =
      run({"--root", snapshot("6.12-intel39") + "/root", "info-cap", "--layout", "packed", "7"});
  ASSERT_EQ(packed.status, 0) << packed.err;
  EXPECT_NE(packed.out.find("packed"), std::string::npos);
}

TEST(Cli, TopologyExamplesAnswerEveryCommand) {
  std::string ex = std::string(IOVAMAP_SOURCE_DIR) + "/examples/";
  CliRun amd =
      run({"--topology", ex + "amd-host-1tib-hole.toml", "--format", "sysfs", "ranges", "14"});
  ASSERT_EQ(amd.status, 0) << amd.err;
  EXPECT_NE(amd.out.find("0x00000000fef00000 0x000000fcffffffff\n"), std::string::npos) << amd.out;
  CliRun bridge =
      run({"--topology", ex + "pci-bridge-32bit.toml", "--format", "sysfs", "ranges", "8"});
  ASSERT_EQ(bridge.status, 0) << bridge.err;
  EXPECT_EQ(bridge.out,
            "0x0000000000000000 0x00000000fedfffff\n"
            "0x00000000fef00000 0x00000000ffffffff\n");
  CliRun arm = run({"--topology", ex + "arm-server-smmuv3-42bit.toml", "--format", "sysfs",
                    "--policy", "kernel", "regions", "9"});
  ASSERT_EQ(arm.status, 0) << arm.err;
  EXPECT_NE(arm.out.find("0x0000000008000000 0x00000000080fffff msi\n"), std::string::npos)
      << arm.out;
  for (const char* cmd : {"list", "regions"}) {
    CliRun r = run({"--topology", ex + "intel39-client-large-vm.toml", cmd});
    EXPECT_EQ(r.status, 0) << r.err;
  }
  // The client has 768 GiB of RAM behind a 39-bit IOMMU: ranges warns.
  CliRun client = run({"--topology", ex + "intel39-client-large-vm.toml", "ranges", "2"});
  ASSERT_EQ(client.status, 0) << client.err;
  EXPECT_NE(client.out.find("warning: the usable space ends at 0x7fffffffff, below the host's "
                            "RAM top 0xbfffffffff"),
            std::string::npos)
      << client.out;
  CliRun amd_ram = run({"--topology", ex + "amd-host-1tib-hole.toml", "ranges", "14"});
  EXPECT_EQ(amd_ram.out.find("RAM top"), std::string::npos) << amd_ram.out;  // no ram-top
  // The client: the stale hint of the NIC is flagged, not used.
  CliRun list = run({"--topology", ex + "intel39-client-large-vm.toml", "list"});
  EXPECT_NE(list.out.find("stale hint"), std::string::npos) << list.out;
}

TEST(Cli, SnapshotCommandCapturesAndRefusesToOverwrite) {
  TempDir tmp;
  std::string dir = (tmp.path() / "snap").string();
  CliRun r = run({"--root", snapshot("6.12-amd") + "/root", "snapshot", dir});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("captured"), std::string::npos);
  CliRun again = run({"--root", snapshot("6.12-amd") + "/root", "snapshot", dir});
  EXPECT_EQ(again.status, 2);
  EXPECT_NE(again.err.find("exists"), std::string::npos) << again.err;
  CliRun read_back =
      run({"--root", dir, "--policy", "kernel", "--format", "sysfs", "regions", "7"});
  EXPECT_EQ(read_back.out, read(snapshot("6.12-amd") + "/expected/reserved_regions.7"));
}

}  // namespace
}  // namespace iovamap

namespace iovamap {
namespace {

// A real kernel booted without an IOMMU (the lab's noiommu-6.12 capture): every command fails
// with exit 2, says why on stderr, and prints nothing on stdout.
TEST(Cli, NoIommuHostFailsEveryCommandClearly) {
  std::string root = std::string(IOVAMAP_TEST_DATA) + "/lab-noiommu-612/root";
  for (std::vector<std::string> cmd : {std::vector<std::string>{"list"},
                                       {"regions"},
                                       {"--format", "json", "list"},
                                       {"ranges", "0"},
                                       {"info-cap", "0"}}) {
    std::vector<std::string> args{"--root", root};
    args.insert(args.end(), cmd.begin(), cmd.end());
    CliRun r = run(args);
    EXPECT_EQ(r.status, 2) << cmd[0];
    EXPECT_EQ(r.out, "") << cmd[0];
    EXPECT_NE(r.err.find("no IOMMU groups"), std::string::npos) << cmd[0] << ": " << r.err;
  }
}

}  // namespace
}  // namespace iovamap
