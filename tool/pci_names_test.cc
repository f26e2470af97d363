// PCI names: real names from Debian's pci.ids, lspci's texts compared with libpci's own
// pci_lookup_name (RapidCheck) and with the output of lspci itself on a config-space dump, and
// a missing or malformed database that must neither print nor exit.
#include "pci_names.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#ifdef IOVAMAP_HAVE_LIBPCI
extern "C" {
#include <pci/pci.h>
}
#endif

namespace iovamap {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const PciNames& names() {
  static const std::unique_ptr<PciNames> n = PciNames::open();
  return *n;
}

std::string why_no_names() {
  return "no PCI names: " + names().problem() + " (install pci.ids and libpci-dev)";
}

TEST(PciNames, RealNamesFromPciIds) {
  if (!names().has_names()) GTEST_SKIP() << why_no_names();
  EXPECT_EQ(names().problem(), "");
  EXPECT_EQ(names().vendor_name(0x8086), "Intel Corporation");
  EXPECT_EQ(names().device_name(0x8086, 0x10d3), "82574L Gigabit Network Connection");
  EXPECT_EQ(names().vendor_name(0x1af4), "Red Hat, Inc.");
  EXPECT_EQ(names().class_name(0x020000), "Ethernet controller");
  EXPECT_EQ(names().class_name(0x0c0320), "USB controller");
  EXPECT_EQ(names().class_name(0x02ff00), "Network controller");  // base class only
  EXPECT_EQ(names().class_name(0x140000), std::nullopt);
  EXPECT_EQ(names().vendor_name(0x0002), std::nullopt);
  EXPECT_EQ(names().device_name(0x8086, 0xffff), std::nullopt);
}

TEST(PciNames, TheThreeStylesOfLspci) {
  if (!names().has_names()) GTEST_SKIP() << why_no_names();
  const PciNames& n = names();
  using S = PciNameStyle;
  EXPECT_EQ(n.device_text(0x8086, 0x10d3, 0x020000, S::kNames),
            "Ethernet controller: Intel Corporation 82574L Gigabit Network Connection");
  EXPECT_EQ(n.device_text(0x8086, 0x10d3, 0x020000, S::kNumeric), "0200: 8086:10d3");
  EXPECT_EQ(n.device_text(0x8086, 0x10d3, 0x020000, S::kBoth),
            "Ethernet controller [0200]: Intel Corporation 82574L Gigabit Network Connection "
            "[8086:10d3]");
  // Unknown pieces, as lspci words them.
  EXPECT_EQ(n.class_text(0x02ff00, S::kNames), "Network controller [02ff]");
  EXPECT_EQ(n.class_text(0x02ff00, S::kBoth), "Network controller [02ff]");
  EXPECT_EQ(n.class_text(0x140000, S::kNames), "Class 1400");
  EXPECT_EQ(n.class_text(0x140000, S::kBoth), "Class [1400]");
  EXPECT_EQ(n.vendor_device_text(0x8086, 0xffff, S::kNames), "Intel Corporation Device ffff");
  EXPECT_EQ(n.vendor_device_text(0x8086, 0xffff, S::kBoth), "Intel Corporation Device [8086:ffff]");
  EXPECT_EQ(n.vendor_device_text(0x0002, 0x0001, S::kNames), "Device 0002:0001");
  EXPECT_EQ(n.vendor_device_text(0x0002, 0x0001, S::kBoth), "Device [0002:0001]");
  // lspci's 128-byte buffer cuts the longest names.
  const std::string cut = n.vendor_device_text(0x15b3, 0x6340, S::kNames);
  EXPECT_EQ(cut.size(), 127u);
  EXPECT_EQ(cut.substr(0, 38), "Mellanox Technologies MT25408A0-FCC-SI");
  EXPECT_EQ(cut.substr(124), "...");
}

// A file in a fresh temporary directory, removed with it.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/pci_names_test.XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void expect_numbers_only(const PciNames& n) {
  using S = PciNameStyle;
  EXPECT_FALSE(n.has_names());
  EXPECT_EQ(n.vendor_name(0x8086), std::nullopt);
  EXPECT_EQ(n.class_name(0x020000), std::nullopt);
  EXPECT_EQ(n.device_text(0x8086, 0x10d3, 0x020000, S::kNames), "Class 0200: Device 8086:10d3");
  EXPECT_EQ(n.device_text(0x8086, 0x10d3, 0x020000, S::kNumeric), "0200: 8086:10d3");
  EXPECT_EQ(n.device_text(0x8086, 0x10d3, 0x020000, S::kBoth), "Class [0200]: Device [8086:10d3]");
}

TEST(PciNames, AMissingDatabaseGivesNumbersQuietly) {
  TempDir dir;
  ::testing::internal::CaptureStderr();
  std::unique_ptr<PciNames> n = PciNames::open(dir.path() + "/absent/pci.ids");
  expect_numbers_only(*n);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
#ifdef IOVAMAP_HAVE_LIBPCI
  if (names().has_names()) {  // the names library is the libpci one
    EXPECT_EQ(n->problem(),
              "cannot read " + dir.path() + "/absent/pci.ids: No such file or directory");
  }
#endif
}

TEST(PciNames, AMalformedDatabaseNeitherPrintsNorExits) {
  if (!names().has_names()) GTEST_SKIP() << why_no_names();
  TempDir dir;
  // libpci's default error handler would print "pcilib: Parse error ..." and exit(1).
  const std::string bad = dir.write("bad.ids", "8086  Intel Corporation\nzz not an id\n");
  const std::string empty = dir.write("empty.ids", "# nothing\n");
  ::testing::internal::CaptureStderr();
  std::unique_ptr<PciNames> n = PciNames::open(bad);
  expect_numbers_only(*n);
  EXPECT_EQ(n->problem(), "Parse error at " + bad + ", line 2");
  std::unique_ptr<PciNames> e = PciNames::open(empty);
  expect_numbers_only(*e);
  EXPECT_EQ(e->problem(), empty + " names no PCI ids");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  // The process is still here, and a good database opened afterwards works.
  const std::string good = dir.write("good.ids",
                                     "1234  Test Vendor\n\t5678  Test Device\n"
                                     "C 02  Network controller\n\t00  Ethernet controller\n");
  std::unique_ptr<PciNames> g = PciNames::open(good);
  EXPECT_TRUE(g->has_names()) << g->problem();
  EXPECT_EQ(g->device_text(0x1234, 0x5678, 0x020000, PciNameStyle::kNames),
            "Ethernet controller: Test Vendor Test Device");
  EXPECT_EQ(g->vendor_name(0x8086), std::nullopt);
}

TEST(PciNames, ConcurrentLookups) {
  if (!names().has_names()) GTEST_SKIP() << why_no_names();
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i)
        if (names().device_text(0x8086, 0x10d3, 0x020000, PciNameStyle::kNames) !=
            "Ethernet controller: Intel Corporation 82574L Gigabit Network Connection")
          ++wrong;
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

#ifdef IOVAMAP_HAVE_LIBPCI

// libpci's own texts, asked as lspci asks them (lspci.c, show_terse: 128-byte buffers,
// PCI_LOOKUP_CLASS and PCI_LOOKUP_VENDOR | PCI_LOOKUP_DEVICE, numeric_ids 1 for -n and 2 for
// -nn), with udev's hwdb off as in PciNames.
struct Oracle {
  pci_access* a = pci_alloc();
  Oracle() { a->id_lookup_mode = PCI_LOOKUP_NO_HWDB; }
  ~Oracle() { pci_cleanup(a); }
  std::string class_text(uint16_t cls, int numeric) {
    char buf[128];
    a->numeric_ids = numeric;
    return pci_lookup_name(a, buf, sizeof buf, PCI_LOOKUP_CLASS, cls);
  }
  std::string vendor_device_text(uint16_t v, uint16_t d, int numeric) {
    char buf[128];
    a->numeric_ids = numeric;
    return pci_lookup_name(a, buf, sizeof buf, PCI_LOOKUP_VENDOR | PCI_LOOKUP_DEVICE, v, d);
  }
};

RC_GTEST_PROP(PciNamesLibpci, TextsAreLibpcis, ()) {
  if (!names().has_names()) RC_DISCARD("no PCI names");
  static Oracle oracle;
  const uint16_t vendor =
      *rc::gen::oneOf(rc::gen::element<uint16_t>(0x8086, 0x10de, 0x1002, 0x15b3, 0x1af4, 0x1b36,
                                                 0x1b21, 0x17df, 0x0001, 0x0002, 0xfffe, 0xabcd),
                      rc::gen::arbitrary<uint16_t>());
  const uint16_t device =
      *rc::gen::oneOf(rc::gen::element<uint16_t>(0x10d3, 0x100e, 0x29c0, 0x6340, 0x634a, 0x6732,
                                                 0x1901, 0x1000, 0x000c, 0x2142, 0x0000, 0xffff),
                      rc::gen::arbitrary<uint16_t>());
  const uint16_t cls =
      *rc::gen::oneOf(rc::gen::element<uint16_t>(0x0200, 0x0280, 0x02ff, 0x0c03, 0x0c05, 0x0600,
                                                 0x0604, 0x1300, 0x1400, 0xff00, 0x0000, 0x0108),
                      rc::gen::arbitrary<uint16_t>());
  const uint32_t class_code = uint32_t{cls} << 8 | *rc::gen::arbitrary<uint8_t>();
  const PciNameStyle styles[] = {PciNameStyle::kNames, PciNameStyle::kNumeric, PciNameStyle::kBoth};
  for (int numeric = 0; numeric < 3; ++numeric) {
    RC_ASSERT(names().class_text(class_code, styles[numeric]) == oracle.class_text(cls, numeric));
    RC_ASSERT(names().vendor_device_text(vendor, device, styles[numeric]) ==
              oracle.vendor_device_text(vendor, device, numeric));
  }
}

#else

TEST(PciNamesLibpci, TextsAreLibpcis) {
  GTEST_SKIP() << "libpci (libpci-dev) not found by CMake";
}

#endif

// ---- lspci itself ------------------------------------------------------------------------------

std::string find_lspci() {
  for (const char* dir : {"/usr/bin", "/bin", "/usr/sbin", "/sbin"}) {
    std::string p = std::string(dir) + "/lspci";
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

// lspci's output lines by slot: "01:00.0" -> "Ethernet controller: ...".
std::map<std::string, std::string> run_lspci(const std::string& command) {
  std::map<std::string, std::string> out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char line[1024];
  while (std::fgets(line, sizeof line, p) != nullptr) {
    std::string l(line);
    if (!l.empty() && l.back() == '\n') l.pop_back();
    size_t space = l.find(' ');
    if (space != std::string::npos) out[l.substr(0, space)] = l.substr(space + 1);
  }
  pclose(p);
  return out;
}

TEST(PciNames, SameLinesAsLspciOnADump) {
  const std::string lspci = find_lspci();
  if (lspci.empty()) GTEST_SKIP() << "lspci not installed (Debian package pciutils)";
  struct Dev {
    std::string slot;
    uint16_t vendor, device;
    uint32_t class_code;
  };
  const std::vector<Dev> devs = {
      {"00:00.0", 0x8086, 0x29c0, 0x060000},  // the snapshot's host bridge
      {"00:04.0", 0x8086, 0x100e, 0x020000}, {"00:1d.7", 0x8086, 0x293a, 0x0c0320},
      {"01:00.0", 0x8086, 0x10d3, 0x020000},  // the 82574L
      {"02:00.0", 0x15b3, 0x6340, 0x0c0600},  // a name lspci cuts
      {"03:00.0", 0x8086, 0xfffe, 0x02ff00},  // unknown device, base class only
      {"04:00.0", 0x0002, 0x0001, 0x140000},  // unknown vendor and class
      {"05:00.0", 0x1af4, 0x1000, 0x130000},  // a base class without subclasses
  };
  // lspci -F reads what `lspci -x` prints: a slot line, then config space bytes in hex
  // (lib/dump.c); 64 bytes of a type 0 header are enough for its one-line form.
  std::string dump;
  for (const Dev& d : devs) {
    unsigned char config[64] = {};
    config[0] = d.vendor & 0xff, config[1] = d.vendor >> 8;
    config[2] = d.device & 0xff, config[3] = d.device >> 8;
    config[9] = d.class_code & 0xff, config[10] = (d.class_code >> 8) & 0xff;
    config[11] = (d.class_code >> 16) & 0xff;
    dump += d.slot + " dump\n";
    for (int row = 0; row < 4; ++row) {
      char line[80];
      int at = std::snprintf(line, sizeof line, "%02x:", row * 16);
      for (int i = 0; i < 16; ++i)
        at += std::snprintf(line + at, sizeof line - at, " %02x", config[row * 16 + i]);
      dump += std::string(line) + "\n";
    }
    dump += "\n";
  }
  TempDir dir;
  const std::string file = dir.write("dump.txt", dump);
  // Both with the database and without one (lspci -i FILE, FILE missing: lspci then prints
  // numbers in words, as PciNames does without names).
  const std::string missing = dir.path() + "/absent.ids";
  std::unique_ptr<PciNames> without = PciNames::open(missing);
  struct Database {
    const PciNames* names;
    std::string option;
  };
  std::vector<Database> databases = {{without.get(), " -i " + missing}};
  if (names().has_names()) databases.push_back({&names(), ""});
  const std::pair<const char*, PciNameStyle> runs[] = {
      {"", PciNameStyle::kNames}, {" -n", PciNameStyle::kNumeric}, {" -nn", PciNameStyle::kBoth}};
  for (const Database& db : databases) {
    for (const auto& [flags, style] : runs) {
      const std::string command = lspci + " -F " + file + db.option + flags;
      std::map<std::string, std::string> lines = run_lspci(command + " 2>/dev/null");
      ASSERT_EQ(lines.size(), devs.size()) << command;
      for (const Dev& d : devs)
        EXPECT_EQ(db.names->device_text(d.vendor, d.device, d.class_code, style), lines[d.slot])
            << d.slot << ": " << command;
    }
  }
}

}  // namespace
}  // namespace iovamap
