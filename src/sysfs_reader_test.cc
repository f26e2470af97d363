// SysfsReader: the real reader on temporary trees (benign and hostile), the fake with the same
// trees, and a differential property against the kernel's own openat2(RESOLVE_IN_ROOT).
#include "iovamap/sysfs_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

#include "test_tree.h"

namespace iovamap {
namespace {

namespace fs = std::filesystem;

// One tree built twice: on disk under a temporary root, and in a FakeSysfs.
struct Tree {
  TempDir dir;
  fs::path root = dir.path() / "root";
  FakeSysfs fake;

  Tree() { fs::create_directories(root); }
  void file(const std::string& p, const std::string& content) {
    fs::create_directories((root / p).parent_path());
    std::ofstream(root / p) << content;
    fake.add_file(p, content);
  }
  void link(const std::string& p, const std::string& target) {
    fs::create_directories((root / p).parent_path());
    fs::create_symlink(target, root / p);
    fake.add_link(p, target);
  }
  void dir_(const std::string& p) {
    fs::create_directories(root / p);
    fake.add_dir(p);
  }
  std::unique_ptr<SysfsReader> real() { return std::move(open_root_reader(root).value()); }
};

// The sysfs shape: a device directory reached through bus and group links.
void build_benign(Tree& t, bool link_files) {
  t.file("sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/vendor", "0x8086\n");
  t.dir_("sys/bus/pci/drivers/e1000e");
  auto link = [&](const std::string& p, const std::string& target) {
    if (link_files) {
      t.file(p, target + "\n");
    } else {
      t.link(p, target);
    }
  };
  link("sys/bus/pci/devices/0000:01:00.0", "../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0");
  link("sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/driver",
       "../../../../bus/pci/drivers/e1000e");
}

class ReaderTest : public ::testing::TestWithParam<bool> {};  // param: link files

TEST_P(ReaderTest, FollowsLinksInsideTheRoot) {
  Tree t;
  build_benign(t, GetParam());
  std::unique_ptr<SysfsReader> real = t.real();
  for (SysfsReader* r : {real.get(), static_cast<SysfsReader*>(&t.fake)}) {
    SCOPED_TRACE(r->display(""));
    Result<std::string> vendor = r->read_file("sys/bus/pci/devices/0000:01:00.0/vendor");
    ASSERT_TRUE(vendor) << vendor.error().message;
    EXPECT_EQ(*vendor, "0x8086\n");
    Result<std::string> link = r->read_link("/sys/bus/pci/devices/0000:01:00.0/driver");
    ASSERT_TRUE(link) << link.error().message;
    EXPECT_EQ(*link, "../../../../bus/pci/drivers/e1000e");
    Result<std::vector<std::string>> names = r->list_dir("sys/bus/pci/devices/0000:01:00.0");
    ASSERT_TRUE(names) << names.error().message;
    EXPECT_EQ(*names, (std::vector<std::string>{"driver", "vendor"}));
    Result<std::vector<std::string>> drivers =
        r->list_dir("sys/bus/pci/devices/0000:01:00.0/driver");
    ASSERT_TRUE(drivers) << drivers.error().message;
    EXPECT_TRUE(drivers->empty());
    // A plain file is not a link.
    Result<std::string> not_link = r->read_link("sys/bus/pci/devices/0000:01:00.0/vendor");
    if (GetParam()) {
      EXPECT_TRUE(not_link);  // indistinguishable from a link file: the caller checks the text
    }
    Result<std::string> missing = r->read_file("sys/bus/pci/devices/0000:01:00.0/class");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ENOENT);
    EXPECT_NE(missing.error().message.find("sys/bus/pci/devices/0000:01:00.0/class"),
              std::string::npos)
        << missing.error().message;
  }
}

INSTANTIATE_TEST_SUITE_P(SymlinksAndLinkFiles, ReaderTest, ::testing::Bool());

// A snapshot that tries to make us read outside it or hang.
TEST(SysfsReader, HostileSnapshotNeverLeavesTheRoot) {
  Tree t;
  std::ofstream(t.dir.path() / "secret") << "outside\n";
  std::string secret_abs = (t.dir.path() / "secret").string();
  t.file("secret", "inside\n");  // what "/secret" means inside the root
  t.link("abs", secret_abs);
  t.link("up", "../../../../../../../../secret");
  t.file("upfile", "../../../../../secret\n");
  t.link("dirup", "../..");
  t.link("loop_a", "loop_b");
  t.link("loop_b", "loop_a");
  t.file("fileloop_a", "fileloop_b\n");
  t.file("fileloop_b", "fileloop_a\n");
  t.link("self", "self/x");
  t.link("dangling", "nowhere/at/all");
  t.file("multiline", "a\nb\n");
  ASSERT_EQ(::mkfifo((t.root / "fifo").c_str(), 0600), 0);
  t.fake.add_special("fifo");
  t.link("to_fifo", "fifo");
  {
    int fd = ::open((t.root / "huge").c_str(), O_CREAT | O_WRONLY, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(kMaxFileBytes) + 1), 0);
    ::close(fd);
    t.fake.add_file("huge", std::string(kMaxFileBytes + 1, 'x'));
  }
  t.file("hugelink/x", "");
  std::unique_ptr<SysfsReader> real = t.real();
  for (SysfsReader* r : {real.get(), static_cast<SysfsReader*>(&t.fake)}) {
    SCOPED_TRACE(r->display(""));
    // Escapes land inside the root.
    for (const char* p :
         {"abs", "up", "dirup/secret", "dirup/dirup/../secret", "upfile/../secret"}) {
      Result<std::string> content = r->read_file(p);
      if (content) {
        EXPECT_EQ(*content, "inside\n") << p;
      } else {
        // "abs" points at the secret's absolute path, which does not exist in the root.
        EXPECT_EQ(content.error().code, ENOENT) << p << ": " << content.error().message;
      }
    }
    EXPECT_EQ(r->read_file("up").value(), "inside\n");
    EXPECT_EQ(r->read_file("dirup/secret").value(), "inside\n");
    EXPECT_EQ(r->list_dir("dirup/..").value().size(), r->list_dir("").value().size());
    // Loops end.
    for (const char* p : {"loop_a", "loop_a/x", "fileloop_a/x", "self"}) {
      Result<std::string> content = r->read_file(p);
      ASSERT_FALSE(content) << p;
      EXPECT_EQ(content.error().code, ELOOP) << p << ": " << content.error().message;
    }
    EXPECT_EQ(r->list_dir("fileloop_a").error().code, ELOOP);
    // Special, huge, missing, multi-line.
    EXPECT_EQ(r->read_file("fifo").error().code, EINVAL);
    EXPECT_EQ(r->read_file("to_fifo").error().code, EINVAL);
    EXPECT_EQ(r->read_file("huge").error().code, EFBIG);
    EXPECT_EQ(r->read_file("dangling").error().code, ENOENT);
    EXPECT_EQ(r->read_link("dangling").value(), "nowhere/at/all");
    EXPECT_EQ(r->read_link("multiline").error().code, EINVAL);
    EXPECT_EQ(r->read_link("huge").error().code, EINVAL);
    EXPECT_EQ(r->read_link("missing").error().code, ENOENT);
    EXPECT_FALSE(r->read_file("huge/x"));
    EXPECT_FALSE(r->read_file("multiline/x"));
    EXPECT_EQ(r->read_file("").error().code, EISDIR);
  }
}

TEST(SysfsReader, MissingRootIsAnError) {
  Result<std::unique_ptr<SysfsReader>> r = open_root_reader("/nonexistent/iovamap/root");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ENOENT);
  EXPECT_NE(r.error().message.find("/nonexistent/iovamap/root"), std::string::npos);
}

TEST(SysfsReader, DisplayNamesTheFileAsTheUserSeesIt) {
  TempDir dir;
  auto r = std::move(open_root_reader(dir.path().string() + "/").value());
  EXPECT_EQ(r->display("sys/x"), dir.path().string() + "/sys/x");
  auto live = std::move(open_root_reader("/").value());
  EXPECT_EQ(live->display("sys/x"), "/sys/x");
}

TEST(ResolveLinkText, IsLexicalAndStaysInTheRoot) {
  EXPECT_EQ(resolve_link_text("sys/bus/pci/devices/0000:01:00.0",
                              "../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0"),
            "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0");
  EXPECT_EQ(resolve_link_text("a/b", "../../../../x"), "x");
  EXPECT_EQ(resolve_link_text("a/b", "/etc/passwd"), "etc/passwd");
  EXPECT_EQ(resolve_link_text("a/b", "./c/./d/"), "a/c/d");
  EXPECT_EQ(resolve_link_text("b", "c"), "c");
  EXPECT_EQ(base_name("../../bus/pci/drivers/e1000e"), "e1000e");
  EXPECT_EQ(base_name("dmar0/"), "dmar0");
}

// Differential: on random trees of directories, files and symlinks (no link files), the fake's
// own resolution must answer exactly as the kernel's openat2(RESOLVE_IN_ROOT) does through the
// real reader: same success, same content.
RC_GTEST_PROP(SysfsReader, FakeResolvesLikeTheKernel, ()) {
  static const std::vector<std::string> kParts = {"a", "b", "l", "m", "..", ".", "f"};
  auto gen_path = rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(kParts));
  auto join = [](const std::vector<std::string>& parts, bool absolute) {
    std::string s = absolute ? "/" : "";
    for (size_t i = 0; i < parts.size(); ++i) s += (i ? "/" : "") + parts[i];
    return s;
  };
  Tree t;
  // Fixed directories and files, so that random paths often hit something.
  for (const char* d : {"a", "a/b", "b", "b/a"}) t.dir_(d);
  for (const char* f : {"f", "a/f", "a/b/f", "b/f", "b/a/f"}) t.file(f, std::string(f) + "\n");
  // Random links at "l", "a/l", "b/m", "a/b/l".
  for (const char* l : {"l", "a/l", "b/m", "a/b/l"}) {
    std::vector<std::string> parts = *rc::gen::resize(4, gen_path);
    if (parts.empty()) parts.push_back("f");
    bool absolute = *rc::gen::arbitrary<bool>();
    t.link(l, join(parts, absolute));
  }
  std::unique_ptr<SysfsReader> real = t.real();
  for (int i = 0; i < 8; ++i) {
    std::vector<std::string> query = *rc::gen::resize(6, gen_path);
    std::string q = join(query, false);
    Result<std::string> a = real->read_file(q);
    Result<std::string> b = t.fake.read_file(q);
    RC_ASSERT(a.ok() == b.ok());
    if (a) RC_ASSERT(*a == *b);
  }
}

}  // namespace
}  // namespace iovamap
