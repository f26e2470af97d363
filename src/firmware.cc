// Reading a host's firmware tables (firmware.h).
#include "iovamap/firmware.h"

namespace iovamap {
namespace {

// The bytes of `path`, nullopt when it does not exist.
Result<std::optional<std::string>> read_optional(SysfsReader& reader, const std::string& path) {
  Result<std::string> r = reader.read_file(path);
  if (!r) {
    if (r.error().code == ENOENT) return std::optional<std::string>();
    return r.error();
  }
  return std::optional<std::string>(std::move(*r));
}

template <class T, class Parse>
Status read_table(SysfsReader& reader, const char* name, Parse parse, std::optional<T>* out) {
  const std::string path = std::string(kAcpiTablesDir) + "/" + name;
  IOVAMAP_ASSIGN_OR_RETURN(std::optional<std::string> bytes, read_optional(reader, path));
  if (!bytes) return {};
  Result<T> parsed = parse(*bytes);
  if (!parsed) return parsed.error().with_context(reader.display(path));
  *out = std::move(*parsed);
  return {};
}

// A cell-count property of the node at `dir`, nullopt when absent.
Result<std::optional<unsigned>> read_cells(SysfsReader& reader, const std::string& dir,
                                           const char* name) {
  const std::string path = dir + "/" + name;
  IOVAMAP_ASSIGN_OR_RETURN(std::optional<std::string> bytes, read_optional(reader, path));
  if (!bytes) return std::optional<unsigned>();
  IOVAMAP_ASSIGN_OR_RETURN(unsigned cells, parse_dt_cells(*bytes, reader.display(path)));
  return std::optional<unsigned>(cells);
}

struct DtWalk {
  SysfsReader& reader;
  std::vector<DtDmaRangesNode>* out;
  size_t nodes = 0;

  // Visits the node at `rel` (below the root) whose parent has `parent_address_cells` and
  // whose inherited counts are `address_cells`, `size_cells` (of_bus_n_addr_cells and
  // of_bus_n_size_cells look up the parents; the root defaults are 2 and 1).
  Status visit(const std::string& rel, unsigned parent_address_cells, unsigned address_cells,
               unsigned size_cells, int depth) {
    const std::string dir = rel.empty() ? kDeviceTreeDir : std::string(kDeviceTreeDir) + "/" + rel;
    Result<std::vector<std::string>> names = reader.list_dir(dir);
    if (!names) return {};  // a property file, or gone: not a node
    if (++nodes > kMaxDtNodes)
      return make_error(EFBIG, reader.display(dir) + ": more than " + std::to_string(kMaxDtNodes) +
                                   " device-tree nodes");
    auto has = [&](const char* name) {
      for (const std::string& n : *names)
        if (n == name) return true;
      return false;
    };
    if (has("#address-cells")) {
      IOVAMAP_ASSIGN_OR_RETURN(std::optional<unsigned> c,
                               read_cells(reader, dir, "#address-cells"));
      address_cells = c.value_or(address_cells);
    }
    if (has("#size-cells")) {
      IOVAMAP_ASSIGN_OR_RETURN(std::optional<unsigned> c, read_cells(reader, dir, "#size-cells"));
      size_cells = c.value_or(size_cells);
    }
    if (has("dma-ranges")) {
      const std::string path = dir + "/dma-ranges";
      IOVAMAP_ASSIGN_OR_RETURN(std::optional<std::string> bytes, read_optional(reader, path));
      if (bytes) {
        DtDmaRangesNode node;
        node.path = rel;
        // of_bus_pci_match: device_type "pci" or "pciex" makes a PCI bus.
        IOVAMAP_ASSIGN_OR_RETURN(std::optional<std::string> type,
                                 read_optional(reader, dir + "/device_type"));
        std::string t = type ? std::string(type->c_str()) : "";
        node.cells = DtCells{.child_address_cells = address_cells,
                             .parent_address_cells = parent_address_cells,
                             .size_cells = size_cells,
                             .pci = t == "pci" || t == "pciex"};
        node.empty = bytes->empty();
        IOVAMAP_ASSIGN_OR_RETURN(node.ranges,
                                 parse_dt_dma_ranges(*bytes, node.cells, reader.display(path)));
        out->push_back(std::move(node));
      }
    }
    if (depth >= kMaxDtDepth) return {};
    for (const std::string& n : *names) {
      if (n.empty() || n[0] == '#' || n == "name" || n == "phandle" || n == "compatible" ||
          n == "reg" || n == "ranges" || n == "dma-ranges" || n == "device_type" || n == "status" ||
          n == "interrupts")
        continue;  // common property files: not nodes
      IOVAMAP_RETURN_IF_ERROR(visit(rel.empty() ? n : rel + "/" + n, address_cells, address_cells,
                                    size_cells, depth + 1));
    }
    return {};
  }
};

}  // namespace

Status set_firmware_table(Firmware& fw, std::string_view signature, std::string_view bytes) {
  auto set = [&](auto parse, auto& slot) -> Status {
    auto parsed = parse(bytes);
    if (!parsed) return parsed.error();
    slot = std::move(*parsed);
    return {};
  };
  if (signature == "DMAR") return set(parse_dmar, fw.dmar);
  if (signature == "IVRS") return set(parse_ivrs, fw.ivrs);
  if (signature == "IORT") return set(parse_iort, fw.iort);
  if (signature == "VIOT") return set(parse_viot, fw.viot);
  return make_error(EINVAL, "'" + std::string(signature) +
                                "' is not a table iovamap reads (DMAR, IVRS, IORT, VIOT)");
}

Result<Firmware> read_firmware(SysfsReader& reader) {
  Firmware fw;
  IOVAMAP_RETURN_IF_ERROR(read_table(reader, "DMAR", parse_dmar, &fw.dmar));
  IOVAMAP_RETURN_IF_ERROR(read_table(reader, "IVRS", parse_ivrs, &fw.ivrs));
  IOVAMAP_RETURN_IF_ERROR(read_table(reader, "IORT", parse_iort, &fw.iort));
  IOVAMAP_RETURN_IF_ERROR(read_table(reader, "VIOT", parse_viot, &fw.viot));
  DtWalk walk{reader, &fw.dma_ranges};
  // The root's own counts default to 2 and 1; its "parent" is the CPU address space, which
  // the root's #address-cells describes.
  IOVAMAP_RETURN_IF_ERROR(walk.visit("", 2, 2, 1, 0));
  return fw;
}

}  // namespace iovamap
