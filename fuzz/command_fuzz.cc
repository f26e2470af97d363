// libFuzzer target: the whole command over a fuzzed host. The input edits a real snapshot
// (tests/data/snapshots/6.12-intel39, held in memory as a FakeSysfs: files replaced, added,
// turned into links) and chooses the command, its groups or devices, the policy, DMA limits,
// the output format and, for check, the map file. Every command must answer or fail with an
// error value, never crash; a JSON answer must parse; a text answer must hold no terminal
// control character but the newline; an SVG answer is one document without control characters.
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "command.h"
#include "iovamap/host_loader.h"
#include "iovamap/sysfs_reader.h"
#include "output.h"

using namespace iovamap;
namespace fs = std::filesystem;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

struct Base {
  FakeSysfs tree{"fuzz"};
  std::vector<std::string> files;  // root-relative, for edits to pick from
};

// The snapshot, read once.
const Base& base() {
  static const Base* b = [] {
    auto* out = new Base;
    fs::path root = fs::path(IOVAMAP_SOURCE_DIR) / "tests/data/snapshots/6.12-intel39/root";
    for (auto it = fs::recursive_directory_iterator(root); it != fs::end(it); ++it) {
      std::string rel = fs::relative(it->path(), root).string();
      if (it->is_symlink()) {
        out->tree.add_link(rel, fs::read_symlink(it->path()).string());
        it.disable_recursion_pending();
      } else if (it->is_directory()) {
        out->tree.add_dir(rel);
      } else {
        std::ifstream in(it->path(), std::ios::binary);
        out->tree.add_file(rel, std::string(std::istreambuf_iterator<char>(in), {}));
        out->files.push_back(rel);
      }
    }
    return out;
  }();
  return *b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const Base& b = base();
  FakeSysfs tree = b.tree;
  // Edits to the host.
  for (int n = in.ConsumeIntegralInRange(0, 6); n > 0; --n) {
    std::string path = in.ConsumeBool() && !b.files.empty()
                           ? b.files[in.ConsumeIntegralInRange<size_t>(0, b.files.size() - 1)]
                           : in.ConsumeRandomLengthString(64);
    std::string content = in.ConsumeRandomLengthString(256);
    switch (in.ConsumeIntegralInRange(0, 2)) {
      case 0:
        tree.add_file(path, content);
        break;
      case 1:
        tree.add_link(path, content);
        break;
      default:
        tree.add_special(path);
        break;
    }
  }
  // The command line.
  tool::Options o;
  const char* policies[] = {"kernel", "rfc", "rfc-fixed", "effective"};
  o.policy = policies[in.ConsumeIntegralInRange(0, 3)];
  if (in.ConsumeBool()) o.dma_limits.push_back(in.ConsumeRandomLengthString(24));
  for (int n = in.ConsumeIntegralInRange(0, 3); n > 0; --n)
    o.selectors.push_back(in.ConsumeBool() ? std::to_string(in.ConsumeIntegralInRange(0, 9))
                                           : in.ConsumeRandomLengthString(16));
  if (in.ConsumeBool()) o.id_filters.push_back(in.ConsumeRandomLengthString(16));
  const char* formats[] = {"text", "json", "sysfs", "svg"};
  std::string format = formats[in.ConsumeIntegralInRange(0, 3)];
  o.pretty = in.ConsumeBool();
  o.numeric = in.ConsumeBool();
  o.iommufd = in.ConsumeBool();
  o.layout = in.ConsumeBool() ? "packed" : "";
  o.map_file = "-";
  const char* commands[] = {"list", "regions", "ranges", "check", "info-cap", "assignable"};
  std::string command = commands[in.ConsumeIntegralInRange(0, 5)];
  std::string map = in.ConsumeRemainingBytesAsString();

  Result<LoadedHost> host = load_host({.source = HostSource::kSnapshot,
                                       .path = "fuzz",
                                       .policy = *parse_policy(o.policy),
                                       .dma_limits = o.dma_limits,
                                       .reader = &tree});
  if (!host) {
    require(!host.error().message.empty());
    return 0;
  }
  int map_fd = ::memfd_create("map", MFD_CLOEXEC);
  require(map_fd >= 0);
  require(::write(map_fd, map.data(), map.size()) == static_cast<ssize_t>(map.size()));
  ::lseek(map_fd, 0, SEEK_SET);
  std::ostringstream out;
  std::unique_ptr<tool::Output> output =
      tool::make_output(format, out, {.pretty = o.pretty, .numeric = o.numeric});
  tool::Context c{o, &*host, *output, map_fd};
  const tool::CommandRow* row = nullptr;
  for (const tool::CommandRow& r : tool::commands())
    if (r.name == command) row = &r;
  Result<bool> answer = row->run(c);
  ::close(map_fd);
  if (!answer) {
    require(!answer.error().message.empty());
    return 0;
  }
  const std::string text = out.str();
  if (format == "json") {
    // One document (check streams pieces that must still make one).
    require(nlohmann::json::accept(text));
  } else if (format == "text") {
    for (char ch : text) require(static_cast<unsigned char>(ch) >= 0x20 || ch == '\n');
  } else if (format == "svg") {
    // One document, and no control character XML 1.0 refuses (host strings are escaped).
    require(text.rfind("<?xml", 0) == 0 && text.size() >= 7 &&
            text.compare(text.size() - 7, 7, "</svg>\n") == 0);
    for (char ch : text) require(static_cast<unsigned char>(ch) >= 0x20 || ch == '\n');
  }
  return 0;
}
