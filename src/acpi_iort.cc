// The ACPI IORT parser (acpi_iort.h). Kernel rules cited are from drivers/acpi/arm64/iort.c
// (iort_scan_node, iort_node_map_id, nc_dma_get_range, rc_dma_get_range, iort_find_rmrs,
// iort_node_get_rmr_info, iort_get_rmrs), Linux 6.12.
#include "iovamap/acpi_iort.h"

#include <algorithm>

namespace iovamap {
namespace {

constexpr size_t kNodeHeaderBytes = 16;
constexpr size_t kIdMappingBytes = 20;
constexpr size_t kRmrDescriptorBytes = 20;
constexpr uint8_t kRmrMinTableRevision = 5;  // IORT E.d

// The fixed part each node type has after its 16-byte header, as this parser reads it.
size_t fixed_bytes(uint8_t type) {
  switch (static_cast<IortNodeType>(type)) {
    case IortNodeType::kItsGroup:
      return 20;
    case IortNodeType::kNamedComponent:
      return 29;
    case IortNodeType::kRootComplex:
      return 32;  // + the limit byte from revision 1
    case IortNodeType::kSmmuV1V2:
      return 40;
    case IortNodeType::kSmmuV3:
      return 44;
    case IortNodeType::kRmr:
      return 28;
    default:
      return kNodeHeaderBytes;
  }
}

Status parse_node_data(const TableBytes& t, IortNode& n, const std::string& what,
                       uint8_t table_revision) {
  const size_t at = n.offset;
  const size_t end = at + n.length;
  if (n.length < fixed_bytes(n.type))
    return t.error(at, what,
                   iort_node_type_name(n.type) + " node of length " + std::to_string(n.length) +
                       ", below its " + std::to_string(fixed_bytes(n.type)) + " bytes");
  switch (static_cast<IortNodeType>(n.type)) {
    case IortNodeType::kItsGroup: {
      const uint32_t count = *t.u32(at + 16, what);
      if (count > (end - at - 20) / 4)
        return t.error(at, what, std::to_string(count) + " ITS ids pass the end of the node");
      for (uint32_t i = 0; i < count; ++i) n.its_ids.push_back(*t.u32(at + 20 + 4 * i, what));
      break;
    }
    case IortNodeType::kNamedComponent: {
      n.node_flags = *t.u32(at + 16, what);
      n.memory_properties = *t.u64(at + 20, what);
      n.memory_address_limit = *t.u8(at + 28, what);
      // The device name is a NUL-terminated string inside the node.
      std::string_view rest = *t.bytes(at + 29, end - at - 29, what);
      const size_t nul = rest.find('\0');
      if (nul == std::string_view::npos)
        return t.error(at + 29, what, "device name not terminated inside the node");
      n.name = std::string(rest.substr(0, nul));
      break;
    }
    case IortNodeType::kRootComplex:
      n.memory_properties = *t.u64(at + 16, what);
      n.ats_attribute = *t.u32(at + 24, what);
      n.pci_segment = *t.u32(at + 28, what);
      // The memory address size limit came with node revision 1; before, the byte is not part
      // of the node (rc_dma_get_range ignores revision 0 nodes).
      if (n.revision >= 1) {
        if (n.length < 33)
          return t.error(at, what,
                         "root complex node revision " + std::to_string(n.revision) +
                             " of length " + std::to_string(n.length) + ", below its 33 bytes");
        n.memory_address_limit = *t.u8(at + 32, what);
      }
      break;
    case IortNodeType::kSmmuV1V2:
      n.base_address = *t.u64(at + 16, what);
      n.smmu_model = *t.u32(at + 32, what);
      n.smmu_flags = *t.u32(at + 36, what);
      break;
    case IortNodeType::kSmmuV3:
      n.base_address = *t.u64(at + 16, what);
      n.smmu_flags = *t.u32(at + 24, what);
      n.smmu_model = *t.u32(at + 40, what);
      break;
    case IortNodeType::kRmr: {
      n.rmr_flags = *t.u32(at + 16, what);
      const uint32_t count = *t.u32(at + 20, what);
      const uint32_t offset = *t.u32(at + 24, what);
      // iort_find_rmrs: RMR nodes are read from IORT revision 5 (E.d) on; E.c's were dropped.
      // iort_node_get_rmr_info skips a node whose ID mapping offset or count is 0 (logged as a
      // firmware bug), then, silently, one whose descriptor offset or count is 0. The node's own
      // revision is not looked at.
      if (table_revision < kRmrMinTableRevision)
        n.rmr_ignored = "IORT revision " + std::to_string(table_revision) +
                        " below 5 (E.d): the kernel reads no RMR node";
      else if (n.mapping_offset == 0)
        n.rmr_ignored = "ID mapping offset 0: the kernel skips the RMR node (a firmware bug)";
      else if (n.mappings.empty())
        n.rmr_ignored = "no ID mapping: the kernel skips the RMR node (a firmware bug)";
      else if (count == 0 || offset == 0)
        n.rmr_ignored = "no memory range descriptors: the kernel skips the RMR node";
      if (count == 0 || offset == 0) break;
      if (offset > n.length || count > (n.length - offset) / kRmrDescriptorBytes)
        return t.error(at, what,
                       std::to_string(count) + " RMR descriptors at node offset " + hex(offset) +
                           " pass the end of the node");
      for (uint32_t i = 0; i < count; ++i) {
        IortRmrRange r;
        r.offset = at + offset + size_t{i} * kRmrDescriptorBytes;
        r.base = *t.u64(r.offset, what);
        r.length = *t.u64(r.offset + 8, what);
        // iort_get_rmrs builds [base, base + length - 1] unchecked; a wrap is not a region.
        if (r.length != 0 && r.base + (r.length - 1) < r.base)
          return t.error(r.offset, what,
                         "RMR range " + hex(r.base) + " + " + hex(r.length) + " passes 2^64");
        n.rmr_ranges.push_back(r);
      }
      break;
    }
    default:
      break;  // PMCG and types the kernel does not know: header and mappings only
  }
  return {};
}

}  // namespace

std::string iort_node_type_name(uint8_t type) {
  switch (static_cast<IortNodeType>(type)) {
    case IortNodeType::kItsGroup:
      return "ITS group";
    case IortNodeType::kNamedComponent:
      return "named component";
    case IortNodeType::kRootComplex:
      return "root complex";
    case IortNodeType::kSmmuV1V2:
      return "SMMUv1/v2";
    case IortNodeType::kSmmuV3:
      return "SMMUv3";
    case IortNodeType::kPmcg:
      return "PMCG";
    case IortNodeType::kRmr:
      return "RMR";
  }
  return "type " + hex(type);
}

const IortNode* Iort::node_at(uint32_t offset) const {
  auto it = std::lower_bound(nodes.begin(), nodes.end(), offset,
                             [](const IortNode& n, uint32_t o) { return n.offset < o; });
  return it != nodes.end() && it->offset == offset ? &*it : nullptr;
}

const IortNode* Iort::root_complex(uint32_t segment) const {
  for (const IortNode& n : nodes)
    if (n.type == static_cast<uint8_t>(IortNodeType::kRootComplex) && n.pci_segment == segment)
      return &n;
  return nullptr;
}

Result<Iort> parse_iort(std::string_view bytes) {
  IOVAMAP_ASSIGN_OR_RETURN(AcpiHeader header, parse_acpi_header(bytes, "IORT"));
  TableBytes t(bytes.substr(0, header.length), "IORT");
  Iort iort;
  iort.header = std::move(header);
  IOVAMAP_ASSIGN_OR_RETURN(iort.node_count, t.u32(36, "header"));
  IOVAMAP_ASSIGN_OR_RETURN(iort.node_offset, t.u32(40, "header"));
  size_t at = iort.node_offset;
  for (uint32_t i = 0; i < iort.node_count; ++i) {
    const std::string what = "node " + std::to_string(i);
    // iort_scan_node stops with "IORT node pointer overflows, bad table!" at a node that
    // starts past the end; a node that starts inside but ends outside would be read past it.
    if (!t.has(at, kNodeHeaderBytes))
      return t.error(at, what, "the node header passes the table end (" + hex(t.size()) + ")");
    IortNode n;
    n.index = i;
    n.offset = at;
    n.type = *t.u8(at, what);
    n.length = *t.u16(at + 1, what);
    n.revision = *t.u8(at + 3, what);
    n.identifier = *t.u32(at + 4, what);
    const uint32_t mapping_count = *t.u32(at + 8, what);
    const uint32_t mapping_offset = *t.u32(at + 12, what);
    if (n.length == 0)
      return t.error(at, what, "length 0 (the kernel would read this node again as the next)");
    if (n.length < kNodeHeaderBytes)
      return t.error(at, what, "length " + std::to_string(n.length) + " below the 16-byte header");
    if (!t.has(at, n.length)) return t.passes_end(at, what, n.length);
    n.mapping_offset = mapping_offset;
    // An RMR node with mapping offset 0 is skipped by the kernel before its mappings are read
    // (iort_node_get_rmr_info); its "mappings" would be its own header.
    const bool rmr_unmapped =
        n.type == static_cast<uint8_t>(IortNodeType::kRmr) && mapping_offset == 0;
    if (mapping_count != 0 && !rmr_unmapped) {
      if (mapping_offset > n.length ||
          mapping_count > (n.length - mapping_offset) / kIdMappingBytes)
        return t.error(at, what,
                       std::to_string(mapping_count) + " ID mappings at node offset " +
                           hex(mapping_offset) + " pass the end of the node");
      for (uint32_t m = 0; m < mapping_count; ++m) {
        IortIdMapping map;
        map.offset = at + mapping_offset + size_t{m} * kIdMappingBytes;
        map.input_base = *t.u32(map.offset, what);
        map.id_count = *t.u32(map.offset + 4, what);
        map.output_base = *t.u32(map.offset + 8, what);
        map.output_reference = *t.u32(map.offset + 12, what);
        map.flags = *t.u32(map.offset + 16, what);
        n.mappings.push_back(map);
      }
    }
    IOVAMAP_RETURN_IF_ERROR(parse_node_data(t, n, what, iort.header.revision));
    at += n.length;
    iort.nodes.push_back(std::move(n));
  }
  // Nodes must not overlap for node_at's search; the walk above keeps them in offset order.
  // Every reference must name a node, and following them must end.
  for (const IortNode& n : iort.nodes)
    for (const IortIdMapping& m : n.mappings)
      if (!iort.node_at(m.output_reference))
        return t.error(m.offset, "node " + std::to_string(n.index) + " ID mapping",
                       "output reference " + hex(m.output_reference) + " is not a node");
  // A loop: depth-first colouring over the reference graph.
  std::vector<uint8_t> colour(iort.nodes.size(), 0);  // 0 new, 1 on the path, 2 done
  std::vector<std::pair<size_t, size_t>> stack;       // node, next mapping
  for (size_t root = 0; root < iort.nodes.size(); ++root) {
    if (colour[root]) continue;
    stack.push_back({root, 0});
    colour[root] = 1;
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next == iort.nodes[node].mappings.size()) {
        colour[node] = 2;
        stack.pop_back();
        continue;
      }
      const IortIdMapping& m = iort.nodes[node].mappings[next++];
      const size_t to = iort.node_at(m.output_reference)->index;
      if (colour[to] == 1)
        return t.error(m.offset, "node " + std::to_string(node) + " ID mapping",
                       "output reference " + hex(m.output_reference) + " loops back to node " +
                           std::to_string(to));
      if (colour[to] == 0) {
        colour[to] = 1;
        stack.push_back({to, 0});
      }
    }
  }
  return iort;
}

Result<IortMapped> iort_map_id(const Iort& iort, size_t node, uint32_t id, uint32_t stop_types) {
  // parse_iort refused loops, so a walk visits each node at most once.
  for (size_t steps = 0; steps <= iort.nodes.size() && node < iort.nodes.size(); ++steps) {
    const IortNode& n = iort.nodes[node];
    const bool stop = n.type < 32 && ((stop_types >> n.type) & 1) != 0;  // types reach 255
    if (stop || n.mappings.empty()) return IortMapped{node, id};
    // iort_id_map: a single mapping takes any id to its output base, for named components and
    // root complexes only (other types skip it with a FW_BUG warning); a range takes
    // [input_base, input_base + id_count].
    const bool single_ok = n.type == static_cast<uint8_t>(IortNodeType::kNamedComponent) ||
                           n.type == static_cast<uint8_t>(IortNodeType::kRootComplex);
    const IortIdMapping* taken = nullptr;
    for (const IortIdMapping& m : n.mappings) {
      if (m.single() ? single_ok : id >= m.input_base && id - m.input_base <= m.id_count) {
        taken = &m;
        break;
      }
    }
    if (!taken)
      return make_error(
          ENOENT, "IORT: node " + std::to_string(n.index) + ": no ID mapping takes " + hex(id));
    id = taken->single() ? taken->output_base : taken->output_base + (id - taken->input_base);
    node = iort.node_at(taken->output_reference)->index;
  }
  return make_error(EINVAL, "IORT: ID mapping walk did not end");
}

IortDmaLimit iort_dma_limit(const IortNode& node) {
  const auto type = static_cast<IortNodeType>(node.type);
  if (type != IortNodeType::kNamedComponent && type != IortNodeType::kRootComplex)
    return {std::nullopt, "a " + iort_node_type_name(node.type) + " node has no DMA limit"};
  if (type == IortNodeType::kRootComplex && node.revision < 1)
    return {std::nullopt, "root complex node revision 0 has no memory address size limit"};
  if (node.memory_address_limit == 0)
    return {std::nullopt, "memory address size limit 0 (a firmware bug the kernel skips)"};
  if (node.memory_address_limit >= 64) return {UINT64_MAX, ""};
  return {(uint64_t{1} << node.memory_address_limit) - 1, ""};
}

}  // namespace iovamap
