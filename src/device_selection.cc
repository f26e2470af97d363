// Device and group selection (device_selection.h).
//
// The two filter grammars are pciutils' (lib/filter.c, pciutils 3.9.0): the field splitting
// of split_to_fields, the digit rules of parse_hex_field, the field roles of
// pci_filter_parse_slot and pci_filter_parse_id, and the comparisons of pci_filter_match.
// Each function below says which one it follows; the code is ours.
#include "iovamap/device_selection.h"

#include "quoted.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

namespace iovamap {

namespace {

using detail::kShownBytes;
using detail::quoted;

// libpci copies a filter into a 64-byte buffer and refuses one that does not fit with its
// NUL (split_to_fields: "Expression too long").
constexpr size_t kMaxFilterLength = 63;
std::string where(const Host& host) {
  return host.source.empty() ? std::string("this host") : host.source;
}

std::string hex_string(uint32_t value) {
  char buf[16];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, 16);
  (void)ec;
  return std::string(buf, end);
}

std::string hex4(uint32_t value) {
  std::string s = hex_string(value);
  return std::string(s.size() < 4 ? 4 - s.size() : 0, '0') + s;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_decimal(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Splits at every `sep` (split_to_fields keeps empty fields: "0:" is "0" and "").
std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t at = text.find(sep, start);
    if (at == std::string_view::npos) {
      out.push_back(text.substr(start));
      return out;
    }
    out.push_back(text.substr(start, at - start));
    start = at + 1;
  }
}

// field_defined in lib/filter.c: an empty field and "*" leave the filter's field at "any".
bool field_given(std::string_view field) {
  return !field.empty() && field != "*";
}

// One hexadecimal field, read as parse_hex_field in lib/filter.c reads it: digits of either
// case, no sign, no "0x", any number of leading zeros, refused as soon as the digits read so
// far exceed `max`. With `wildcards` (the class field only), an 'x' or 'X' is a digit that
// matches anything: its four bits leave `*mask`, and it counts as 1 towards `max`. Like
// libpci we count in 32 bits, and so keep its quirk: a domain of nine or more significant
// digits can wrap below the maximum and pass ("123456789" is domain 23456789, "100000000" is
// domain 0), so that what lspci selects, we select.
struct HexField {
  uint32_t value = 0;
  uint32_t mask = ~0u;  // 32 bits as in libpci; the class compares 16 of them
};
Result<std::optional<HexField>> read_hex_field(std::string_view field, uint32_t max, bool wildcards,
                                               std::string_view what) {
  if (!field_given(field)) return std::optional<HexField>();
  HexField f;
  uint32_t bound = 0;  // the value with each 'x' read as 1
  for (char c : field) {
    if (wildcards && (c == 'x' || c == 'X')) {
      f.value <<= 4;
      f.mask <<= 4;
      bound = (bound << 4) | 1;
    } else {
      int d = hex_digit(c);
      if (d < 0)
        return make_error(EINVAL, std::string(what) + " " + quoted(field) + " has " +
                                      quoted(std::string_view(&c, 1)) + ", not a hex digit" +
                                      (wildcards ? " or x" : ""));
      f.value = (f.value << 4) | static_cast<uint32_t>(d);
      f.mask = (f.mask << 4) | 0xf;
      bound = (bound << 4) | static_cast<uint32_t>(d);
    }
    if (bound > max)
      return make_error(EINVAL,
                        std::string(what) + " " + quoted(field) + " is above " + hex_string(max));
  }
  return std::optional<HexField>(f);
}

// Rule 3 of the file comment in the header: vendor:device as lspci -n prints them.
bool looks_like_ids(std::string_view text) {
  if (text.find('.') != std::string_view::npos) return false;
  std::vector<std::string_view> fields = split(text, ':');
  if (fields.size() < 2) return false;
  auto four_hex = [](std::string_view f) {
    return f.size() == 4 &&
           std::all_of(f.begin(), f.end(), [](char c) { return hex_digit(c) >= 0; });
  };
  auto blank = [](std::string_view f) { return f.empty() || f == "*"; };
  return (four_hex(fields[0]) || blank(fields[0])) && (four_hex(fields[1]) || blank(fields[1])) &&
         (four_hex(fields[0]) || four_hex(fields[1]));
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// " (closest: A, B)" for up to three names, or "".
std::string closest_clause(const std::vector<std::string>& names) {
  if (names.empty()) return "";
  std::string out = " (closest: ";
  for (size_t i = 0; i < names.size() && i < 3; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 3) out += ", ...";
  return out + ")";
}

// The devices whose names are closest to `text` by edit distance, when close enough to be a
// likely typo (a third of the length, at least 1); nothing for long input.
std::vector<std::string> similar_names(const Host& host, std::string_view text) {
  std::vector<std::string> out;
  if (text.empty() || text.size() > kShownBytes) return out;
  size_t best = std::max<size_t>(1, text.size() / 3) + 1;
  for (const Group& g : host.groups)
    for (const Device& d : g.devices) {
      size_t dist = edit_distance(text, d.name);
      if (dist < best) {
        best = dist;
        out.clear();
      }
      if (dist == best) out.push_back(d.name);
    }
  return out;
}

// The names of the devices `match` accepts, in host order.
template <class Match>
std::vector<std::string> devices_where(const Host& host, Match match) {
  std::vector<std::string> out;
  for (const Group& g : host.groups)
    for (const Device& d : g.devices)
      if (match(d)) out.push_back(d.name);
  return out;
}

// Near misses of a slot filter: the devices it matches once one field (then more) is let go.
std::vector<std::string> near_slots(const Host& host, const SlotFilter& f) {
  struct Drop {
    bool domain, bus, slot, function;
  };
  static constexpr Drop kSteps[] = {{false, false, false, true}, {false, false, true, false},
                                    {false, true, false, false}, {true, false, false, false},
                                    {false, false, true, true},  {false, true, true, true}};
  for (const Drop& drop : kSteps) {
    SlotFilter r = f;
    if (drop.domain) r.domain.reset();
    if (drop.bus) r.bus.reset();
    if (drop.slot) r.slot.reset();
    if (drop.function) r.function.reset();
    if (r == f) continue;
    std::vector<std::string> names =
        devices_where(host, [&](const Device& d) { return r.matches(d); });
    if (!names.empty()) return names;
  }
  return {};
}

// Near misses of an id filter, each with its ids: "0000:00:04.0 (8086:100e)".
std::vector<std::string> near_ids(const Host& host, const IdFilter& f) {
  // Without class and prog-if; then the vendor's devices; then the device id under any vendor.
  for (int step = 0; step < 3; ++step) {
    IdFilter r;
    r.vendor = step == 2 ? std::nullopt : f.vendor;
    r.device = step == 1 ? std::nullopt : f.device;
    if (r == f || (!r.vendor && !r.device)) continue;
    std::vector<std::string> out;
    for (const Group& g : host.groups)
      for (const Device& d : g.devices)
        if (r.matches(d))
          out.push_back(d.name + " (" + hex4(d.vendor) + ":" + hex4(d.device_id) + ")");
    if (!out.empty()) return out;
  }
  return {};
}

// "0-8, 12, 14-15", at most eight runs.
std::string group_ranges(const Host& host) {
  std::vector<uint32_t> ids;
  for (const Group& g : host.groups) ids.push_back(g.id);
  std::sort(ids.begin(), ids.end());
  std::string out;
  int runs = 0;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    if (++runs > 8) return out + ", ...";
    out += (out.empty() ? "" : ", ") + std::to_string(ids[i]);
    if (j > i) out += "-" + std::to_string(ids[j]);
    i = j + 1;
  }
  return out;
}

Error no_group_error(const Host& host, const std::string& text) {
  return make_error(ENOENT,
                    "no group " + (text.size() <= 10 ? text : quoted(text)) + " in " + where(host) +
                        (host.groups.empty() ? std::string(" (it has no IOMMU groups)")
                                             : " (its groups: " + group_ranges(host) + ")"));
}

// The ENOENT of a selector that matches no device (kind is not kGroupNumber).
Error no_device_error(const Host& host, const Selector& s) {
  std::vector<std::string> near;
  if (s.kind == SelectorKind::kSlotFilter) near = near_slots(host, s.slot);
  if (s.kind == SelectorKind::kIdFilter) near = near_ids(host, s.ids);
  std::string tail = closest_clause(near);
  if (host.groups.empty()) tail = " (it has no IOMMU groups)";
  return make_error(ENOENT, "no device matches " + quoted(s.text) + " in " + where(host) + tail);
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += (i + 1 == names.size()) ? " and " : ", ";
    out += names[i];
  }
  return out;
}

}  // namespace

std::optional<PciAddress> parse_pci_address(std::string_view name) {
  // The kernel names PCI devices "%04x:%02x:%02x.%d" (drivers/pci/probe.c, pci_setup_device
  // via dev_set_name): 4 or more domain digits, then exactly 2, 2 and 1.
  size_t colon = name.find(':');
  if (colon < 4 || colon > 8 || name.size() != colon + 8) return std::nullopt;
  std::string_view rest = name.substr(colon);
  if (rest[0] != ':' || rest[3] != ':' || rest[6] != '.') return std::nullopt;
  uint64_t domain = 0;
  for (char c : name.substr(0, colon)) {
    int d = hex_digit(c);
    if (d < 0) return std::nullopt;
    domain = domain << 4 | static_cast<uint64_t>(d);
  }
  int b1 = hex_digit(rest[1]), b2 = hex_digit(rest[2]);
  int s1 = hex_digit(rest[4]), s2 = hex_digit(rest[5]);
  int fn = rest[7] >= '0' && rest[7] <= '7' ? rest[7] - '0' : -1;
  if (b1 < 0 || b2 < 0 || s1 < 0 || s2 < 0 || fn < 0) return std::nullopt;
  int slot = s1 << 4 | s2;
  if (slot > 0x1f) return std::nullopt;
  return PciAddress{.domain = static_cast<uint32_t>(domain),
                    .bus = static_cast<uint8_t>(b1 << 4 | b2),
                    .slot = static_cast<uint8_t>(slot),
                    .function = static_cast<uint8_t>(fn)};
}

bool SlotFilter::matches(const PciAddress& a) const {
  // pci_filter_match: each field that is set must be equal.
  return (!domain || *domain == a.domain) && (!bus || *bus == a.bus) &&
         (!slot || *slot == a.slot) && (!function || *function == a.function);
}

bool SlotFilter::matches(const Device& device) const {
  if (!device.is_pci) return false;
  std::optional<PciAddress> a = parse_pci_address(device.name);
  return a && matches(*a);
}

namespace {

// pci_filter_parse_slot: at most three ':' fields; with three, the first is the domain; with
// two or more, the one before the last is the bus; the last is slot[.func]. Errors say only
// why; parse_slot_filter says what.
Result<SlotFilter> read_slot_filter(std::string_view text) {
  if (text.size() > kMaxFilterLength)
    return make_error(EINVAL, "longer than " + std::to_string(kMaxFilterLength) + " characters");
  std::vector<std::string_view> fields = split(text, ':');
  if (fields.size() > 3) return make_error(EINVAL, "more than two ':'");
  SlotFilter f;
  size_t i = 0;
  if (fields.size() == 3) {
    IOVAMAP_ASSIGN_OR_RETURN(std::optional<HexField> domain,
                             read_hex_field(fields[0], 0x7fffffff, false, "domain"));
    if (domain) f.domain = domain->value;
    i = 1;
  }
  if (fields.size() > i + 1) {
    IOVAMAP_ASSIGN_OR_RETURN(std::optional<HexField> bus,
                             read_hex_field(fields[i], 0xff, false, "bus"));
    if (bus) f.bus = static_cast<uint8_t>(bus->value);
    ++i;
  }
  // "*" alone is any slot and function; otherwise slot and function split at '.', each of
  // which may again be empty or "*".
  if (!field_given(fields[i])) return f;
  std::vector<std::string_view> parts = split(fields[i], '.');
  if (parts.size() > 2) return make_error(EINVAL, "more than one '.'");
  IOVAMAP_ASSIGN_OR_RETURN(std::optional<HexField> slot,
                           read_hex_field(parts[0], 0x1f, false, "slot"));
  if (slot) f.slot = static_cast<uint8_t>(slot->value);
  if (parts.size() == 2) {
    IOVAMAP_ASSIGN_OR_RETURN(std::optional<HexField> function,
                             read_hex_field(parts[1], 7, false, "function"));
    if (function) f.function = static_cast<uint8_t>(function->value);
  }
  return f;
}

// pci_filter_parse_id: two to four ':' fields, vendor, device, class, prog-if.
Result<IdFilter> read_id_filter(std::string_view text) {
  if (text.size() > kMaxFilterLength)
    return make_error(EINVAL, "longer than " + std::to_string(kMaxFilterLength) + " characters");
  std::vector<std::string_view> fields = split(text, ':');
  if (fields.size() > 4) return make_error(EINVAL, "more than three ':'");
  if (fields.size() < 2)
    return make_error(EINVAL, "needs at least vendor:device (either may be empty or *)");
  fields.resize(4);  // absent fields are empty: any value
  IdFilter f;
  IOVAMAP_ASSIGN_OR_RETURN(std::optional<HexField> vendor,
                           read_hex_field(fields[0], 0xffff, false, "vendor"));
  IOVAMAP_ASSIGN_OR_RETURN(std::optional<HexField> device,
                           read_hex_field(fields[1], 0xffff, false, "device"));
  IOVAMAP_ASSIGN_OR_RETURN(std::optional<HexField> cls,
                           read_hex_field(fields[2], 0xffff, true, "class"));
  IOVAMAP_ASSIGN_OR_RETURN(std::optional<HexField> prog_if,
                           read_hex_field(fields[3], 0xff, false, "prog-if"));
  if (vendor) f.vendor = static_cast<uint16_t>(vendor->value);
  if (device) f.device = static_cast<uint16_t>(device->value);
  if (cls) {
    f.device_class = static_cast<uint16_t>(cls->value);
    f.class_mask = static_cast<uint16_t>(cls->mask);
  }
  if (prog_if) f.prog_if = static_cast<uint8_t>(prog_if->value);
  return f;
}

}  // namespace

Result<SlotFilter> parse_slot_filter(std::string_view text) {
  Result<SlotFilter> f = read_slot_filter(text);
  if (!f)
    return f.error().with_context(quoted(text) +
                                  " is not a PCI slot filter ([[[[domain]:]bus]:][slot][.[func]], "
                                  "hex, as lspci -s takes it)");
  return f;
}

bool IdFilter::matches(uint16_t vendor_id, uint16_t device_id, uint32_t class_code) const {
  // pci_filter_match: vendor and device equal when set; the class (16 bits: base, subclass)
  // equal in the bits of the mask; the prog-if equal when set.
  uint32_t cls = (class_code >> 8) & 0xffff;
  return (!vendor || *vendor == vendor_id) && (!device || *device == device_id) &&
         (!device_class || ((*device_class ^ cls) & class_mask) == 0) &&
         (!prog_if || *prog_if == (class_code & 0xff));
}

bool IdFilter::matches(const Device& d) const {
  return d.is_pci && matches(d.vendor, d.device_id, d.class_code);
}

Result<IdFilter> parse_id_filter(std::string_view text) {
  Result<IdFilter> f = read_id_filter(text);
  if (!f)
    return f.error().with_context(quoted(text) +
                                  " is not a PCI id filter ([vendor]:[device][:class[:prog-if]], "
                                  "hex, as lspci -d takes it)");
  return f;
}

bool Selector::matches(const Group& group, const Device& device) const {
  switch (kind) {
    case SelectorKind::kGroupNumber:
      return group.id == group_id;
    case SelectorKind::kDeviceName:
      return device.name == text;
    case SelectorKind::kSlotFilter:
      return slot.matches(device);
    case SelectorKind::kIdFilter:
      return ids.matches(device);
  }
  return false;
}

Result<Selector> parse_selector(const Host& host, std::string_view text, SelectorForms forms) {
  Selector s;
  s.text = std::string(text);
  if (text.empty())
    return make_error(EINVAL,
                      "an empty selector names nothing: give a group number, a PCI "
                      "address or a device name");
  // 1. A group number. One too large for 32 bits names no group (select_groups says so).
  if (is_decimal(text)) {
    s.kind = SelectorKind::kGroupNumber;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), s.group_id);
    if (ec != std::errc()) return no_group_error(host, s.text);
    return s;
  }
  // 2. A device's exact name.
  for (const Group& g : host.groups)
    for (const Device& d : g.devices)
      if (d.name == text) {
        s.kind = SelectorKind::kDeviceName;
        return s;
      }
  // 3. Ids (declarations only).
  if (forms == SelectorForms::kWithIds && looks_like_ids(text)) {
    IOVAMAP_ASSIGN_OR_RETURN(s.ids, parse_id_filter(text));
    s.kind = SelectorKind::kIdFilter;
    return s;
  }
  // 4. A slot filter.
  if (text.find_first_of(":.") != std::string_view::npos) {
    Result<SlotFilter> slot = parse_slot_filter(text);
    if (!slot) {
      // A typo in a platform device's name ("fd000000.usbb") is not meant as a slot filter.
      if (std::vector<std::string> similar = similar_names(host, text); !similar.empty())
        return make_error(ENOENT, "no device matches " + quoted(text) + " in " + where(host) +
                                      closest_clause(similar));
      if (forms == SelectorForms::kOperand && looks_like_ids(text))
        return make_error(EINVAL,
                          slot.error().message + "; for vendor:device ids use -d " + quoted(text));
      return slot.error();
    }
    s.kind = SelectorKind::kSlotFilter;
    s.slot = *slot;
    return s;
  }
  // 5. Nothing we know.
  std::string hint = closest_clause(similar_names(host, text));
  if (hint.empty() && text.size() <= 2 &&
      std::all_of(text.begin(), text.end(), [](char c) { return hex_digit(c) >= 0; }))
    hint = " (slot " + std::string(text) + " on any bus is written ':" + std::string(text) +
           "', as with lspci -s)";
  return make_error(ENOENT,
                    quoted(text) + " is not a group number, nor a PCI address or device name in " +
                        where(host) +
                        (forms == SelectorForms::kWithIds ? ", nor vendor:device ids" : "") + hint);
}

std::vector<const Group*> Selection::group_list() const {
  std::vector<const Group*> out;
  for (const SelectedGroup& g : groups) out.push_back(g.group);
  return out;
}

std::vector<uint32_t> Selection::group_ids() const {
  std::vector<uint32_t> out;
  for (const SelectedGroup& g : groups) out.push_back(g.group->id);
  return out;
}

Result<Selection> select_groups(const Host& host, const std::vector<std::string>& selectors,
                                const std::vector<std::string>& id_filters, bool all_if_empty) {
  Selection out;
  if (selectors.empty() && id_filters.empty()) {
    if (!all_if_empty) return make_error(EINVAL, "no group or device given");
    for (const Group& g : host.groups) {
      SelectedGroup& s = out.groups.emplace_back();
      s.group = &g;
      s.group_given = true;
      for (const Device& d : g.devices) s.selected_devices.push_back(d.name);
    }
    return out;
  }
  // Per reached group (index into out.groups): the names of its devices asked for.
  std::map<const Group*, size_t> index;
  std::vector<std::set<std::string>> asked;
  auto reach = [&](const Group& g, const std::string& by) -> size_t {
    auto [it, fresh] = index.emplace(&g, out.groups.size());
    if (fresh) {
      out.groups.emplace_back().group = &g;
      asked.emplace_back();
    }
    std::vector<std::string>& r = out.groups[it->second].reached_by;
    if (std::find(r.begin(), r.end(), by) == r.end()) r.push_back(by);
    return it->second;
  };
  // Device selectors: every device they match, in host order.
  auto reach_devices = [&](const Selector& s) -> Status {
    bool any = false;
    for (const Group& g : host.groups)
      for (const Device& d : g.devices)
        if (s.matches(g, d)) {
          asked[reach(g, s.text)].insert(d.name);
          any = true;
        }
    if (!any) return no_device_error(host, s);
    return {};
  };
  std::set<uint32_t> numbers;
  for (const std::string& text : selectors) {
    IOVAMAP_ASSIGN_OR_RETURN(Selector s, parse_selector(host, text));
    if (s.kind != SelectorKind::kGroupNumber) {
      IOVAMAP_RETURN_IF_ERROR(reach_devices(s));
      continue;
    }
    const Group* g = host.find_group(s.group_id);
    if (g == nullptr) return no_group_error(host, text);
    if (!numbers.insert(s.group_id).second)
      return make_error(EINVAL, "group " + std::to_string(s.group_id) + " given twice");
    out.groups[reach(*g, text)].group_given = true;
  }
  for (const std::string& text : id_filters) {
    Selector s;
    s.kind = SelectorKind::kIdFilter;
    s.text = text;
    IOVAMAP_ASSIGN_OR_RETURN(s.ids, parse_id_filter(text));
    IOVAMAP_RETURN_IF_ERROR(reach_devices(s));
  }
  for (size_t i = 0; i < out.groups.size(); ++i) {
    SelectedGroup& s = out.groups[i];
    for (const Device& d : s.group->devices)
      (s.group_given || asked[i].count(d.name) ? s.selected_devices : s.brought_along)
          .push_back(d.name);
  }
  return out;
}

std::vector<std::string> selection_notes(const Selection& selection) {
  std::vector<std::string> out;
  for (const SelectedGroup& s : selection.groups) {
    if (s.brought_along.empty()) continue;
    out.push_back("group " + std::to_string(s.group->id) + ": " + join_names(s.brought_along) +
                  (s.brought_along.size() == 1 ? " comes" : " come") + " along with " +
                  join_names(s.selected_devices) + " (a VFIO container takes whole groups)");
  }
  return out;
}

Result<DmaLimitDeclaration> parse_dma_limit(const Host& host, std::string_view text) {
  std::string context = "DMA limit " + quoted(text);
  size_t eq = text.rfind('=');
  if (eq == std::string_view::npos)
    return make_error(EINVAL, context + ": expected SELECTOR=BITS (e.g. 01:00.0=36)");
  DmaLimitDeclaration out;
  out.text = std::string(text);
  std::string_view bits = text.substr(eq + 1);
  auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), out.bits);
  if (!is_decimal(bits) || ec != std::errc() || end != bits.data() + bits.size() || out.bits < 1 ||
      out.bits > 64)
    return make_error(EINVAL, context + ": BITS must be 1 to 64");
  Result<Selector> s = parse_selector(host, text.substr(0, eq), SelectorForms::kWithIds);
  if (!s) return s.error().with_context(context);
  out.selector = std::move(*s);
  return out;
}

Status apply_dma_limits(Host* host, const std::vector<std::string>& specs) {
  std::vector<DmaLimitDeclaration> declarations;
  // Device (group index, device index) -> the declaration that named it.
  std::map<std::pair<size_t, size_t>, size_t> named;
  for (const std::string& spec : specs) {
    IOVAMAP_ASSIGN_OR_RETURN(DmaLimitDeclaration decl, parse_dma_limit(*host, spec));
    const Selector& s = decl.selector;
    if (s.kind == SelectorKind::kGroupNumber && host->find_group(s.group_id) == nullptr)
      return no_group_error(*host, s.text).with_context("DMA limit " + quoted(spec));
    bool any = false;
    for (size_t gi = 0; gi < host->groups.size(); ++gi) {
      const Group& g = host->groups[gi];
      for (size_t di = 0; di < g.devices.size(); ++di) {
        if (!s.matches(g, g.devices[di])) continue;
        any = true;
        auto [it, fresh] = named.emplace(std::pair(gi, di), declarations.size());
        if (!fresh)
          return make_error(EINVAL, "DMA limits " + quoted(declarations[it->second].text) +
                                        " and " + quoted(spec) + " both name " +
                                        g.devices[di].name);
      }
    }
    if (!any) return no_device_error(*host, s).with_context("DMA limit " + quoted(spec));
    declarations.push_back(std::move(decl));
  }
  for (const auto& [at, which] : named) {
    Device& d = host->groups[at.first].devices[at.second];
    d.declared_dma_bits = declarations[which].bits;
    d.declared_dma_source = "--dma-limit " + declarations[which].text;
  }
  return {};
}

}  // namespace iovamap
