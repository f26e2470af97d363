// Choosing devices and IOMMU groups as people name them: group numbers, PCI addresses written
// as `lspci -s` takes them, vendor:device ids as `lspci -d` takes them, and device names.
//
// Every command that works on groups reads its operands here, so "7", "01:00.0",
// "0000:01:00.0" and "-d 8086:10d3" all mean group 7 on a host whose group 7 holds the
// 82574L at 0000:01:00.0, and every wrong operand is reported in one wording. A VFIO container
// takes whole groups, so a selected device brings its group's other devices along; the
// selection says which devices were asked for and which came along. `--dma-limit` reads its
// `SELECTOR=BITS` declarations here too.
//
// The two filters follow pciutils' libpci exactly (lib/filter.c of pciutils 3.9, the version
// Debian 12 ships; `man lspci`), checked against libpci itself by a property test:
//   slot  [[[[<domain>]:]<bus>]:][<slot>][.[<func>]]     hex; bus <= ff, slot <= 1f, func <= 7,
//                                                        domain <= 7fffffff
//   ids   [<vendor>]:[<device>][:<class>[:<prog-if>]]    hex; vendor, device <= ffff; class is
//                                                        base class and subclass (0200), <= ffff,
//                                                        and may hold 'x' for any digit;
//                                                        prog-if <= ff
// Any field may be empty or "*": any value. An omitted domain is any domain, not domain 0.
//
// Example:
//   Result<Selection> s = select_groups(host, {"01:00.0", "6"}, {"1af4:1000"}, false);
//   for (const SelectedGroup& g : s->groups) model(g.group);   // groups 7, 6, 8 in that order
//   for (const std::string& note : selection_notes(*s)) show(note);
//     // "group 8: 0000:02:00.0 comes along with 0000:03:01.0 (a VFIO container takes whole
//     //  groups)"
//   Status st = apply_dma_limits(&host, {"01:00.0=36", "1b21:2142=32"});
//
// How a command operand (a "selector") is read, in this order (parse_selector):
//   1. all decimal digits: a group number ("7"), even if a device had that name;
//   2. the exact sysfs name of a device of the host ("0000:01:00.0", "fd000000.usb",
//      "soc:gpu"): that device, whatever punctuation it has (platform device names hold '.'
//      and ':');
//   3. (`--dma-limit` only, SelectorForms::kWithIds) vendor:device ids written as `lspci -n`
//      prints them: no '.', and of the first two ':'-separated fields each is empty, "*" or
//      exactly four hex digits, and at least one has four digits ("8086:10d3", "8086:",
//      "1b21:2142:0c03"). A slot filter never needs that: a bus has two digits;
//   4. containing ':' or '.': a slot filter ("01:00.0", "00:1f", "01:00", "0000:01:00.0"); a
//      malformed one that is a near miss of a device's name ("fd000000.usbb") is reported as
//      that name's typo;
//   5. anything else is an error that says what was expected.
// Commands take ids with `-d`, as lspci does, not as operands: an operand shaped like ids
// ("8086:10d3") is an invalid slot filter (bus 8086 is above ff) and the error says to use -d.
//
// Sharp edges:
//   - Operands and -d filters add up (a union: each adds the groups it reaches). In lspci,
//     -s and -d narrow one filter together (both must match); here `ranges 00:1f -d 8086:2922`
//     means group 6 and the groups of every 8086:2922, not only 00:1f.2.
//   - Only devices in IOMMU groups exist for the host (Host lists no other devices), and the
//     filters match only PCI devices (`Device::is_pci`), as lspci sees only PCI devices;
//     platform devices are selected by their exact name or their group number.
//   - The class field is base class and subclass: "0200" is Ethernet; "02" means class 0x0002
//     (lspci's reading), which matches nothing useful; "02xx" is every network controller.
//   - `SelectedGroup::group` points into the Host: it is valid while the Host's group vector
//     is not changed.
//   - Filters longer than 63 characters are refused, as libpci refuses them. libpci 3.10 and
//     later also take "0x" before a number (never documented); 3.9 and this code do not.
//   - `man lspci` says domains go to ffff; libpci takes up to 7fffffff, counting in 32 bits so
//     that a nine-digit domain can wrap and pass ("123456789" is 23456789). We do the same.
//   - Discovery marks a device as PCI only with a four-digit domain (is_pci_address), so the
//     devices of VMD domains (10000 and above) are reached only by name or group number.
//   - Errors quote what was given with control characters escaped and at most 64 bytes shown.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/host.h"
#include "iovamap/result.h"

namespace iovamap {

// A PCI device address as sysfs names it: domain:bus:slot.function.
struct PciAddress {
  uint32_t domain = 0;
  uint8_t bus = 0;
  uint8_t slot = 0;      // PCI "device" number, 0 to 1f
  uint8_t function = 0;  // 0 to 7

  friend bool operator==(const PciAddress&, const PciAddress&) = default;
};

// Reads a sysfs PCI device name, "0000:01:00.0" (domain of 4 to 8 hex digits, as the kernel's
// "%04x:%02x:%02x.%d" prints it; either case). nullopt for anything else, including platform
// device names. Never fails otherwise.
std::optional<PciAddress> parse_pci_address(std::string_view name);

// lspci's -s filter; an empty field matches any value.
struct SlotFilter {
  std::optional<uint32_t> domain;
  std::optional<uint8_t> bus;
  std::optional<uint8_t> slot;
  std::optional<uint8_t> function;

  // Whether `address` has every field the filter sets (pci_filter_match in lib/filter.c).
  bool matches(const PciAddress& address) const;
  // Whether `device` is a PCI device (`is_pci` and a PCI address name) that matches.
  bool matches(const Device& device) const;

  friend bool operator==(const SlotFilter&, const SlotFilter&) = default;
};

// Reads `[[[[<domain>]:]<bus>]:][<slot>][.[<func>]]` as lspci -s does (see the file comment):
// one field is the slot, two are bus:slot, three are domain:bus:slot; "0:" is bus 0, "0" is
// slot 0 on any bus, ".4" is function 4 of every slot. EINVAL naming the field and why when
// libpci would refuse the text (bad digit, value too large, too many ':' or '.', 64
// characters or more).
Result<SlotFilter> parse_slot_filter(std::string_view text);

// lspci's -d filter; an empty field matches any value.
struct IdFilter {
  std::optional<uint16_t> vendor;
  std::optional<uint16_t> device;
  // Base class << 8 | subclass; only the bits set in `class_mask` are compared ('x' digits
  // clear their four bits).
  std::optional<uint16_t> device_class;
  uint16_t class_mask = 0xffff;
  std::optional<uint8_t> prog_if;

  // Whether ids and a 24-bit class code (Device::class_code: base, subclass, prog-if) match.
  bool matches(uint16_t vendor_id, uint16_t device_id, uint32_t class_code) const;
  // Whether `device` is a PCI device (`is_pci`) that matches.
  bool matches(const Device& device) const;

  friend bool operator==(const IdFilter&, const IdFilter&) = default;
};

// Reads `[<vendor>]:[<device>][:<class>[:<prog-if>]]` as lspci -d does (see the file comment).
// At least one ':' is required ("8086" alone is refused, as libpci refuses it). EINVAL naming
// the field and why when libpci would refuse the text.
Result<IdFilter> parse_id_filter(std::string_view text);

enum class SelectorKind : uint8_t { kGroupNumber, kDeviceName, kSlotFilter, kIdFilter };

// Which forms a selector may take: commands' operands, or those plus vendor:device ids
// (`--dma-limit`, where there is no -d). See rule 3 in the file comment.
enum class SelectorForms : uint8_t { kOperand, kWithIds };

// One operand, read against a host.
struct Selector {
  SelectorKind kind = SelectorKind::kGroupNumber;
  std::string text;       // as given
  uint32_t group_id = 0;  // kGroupNumber
  SlotFilter slot;        // kSlotFilter
  IdFilter ids;           // kIdFilter
  // kDeviceName: `text` is the device's name.

  // Whether `device`, a member of `group`, is selected: every device of the numbered group;
  // the device so named; the PCI devices the filter matches.
  bool matches(const Group& group, const Device& device) const;
};

// Reads `text` by the rules of the file comment against `host` (rule 2 needs its device
// names). EINVAL when it is empty, is a malformed filter (with libpci's reason, and a hint to
// use -d when an operand looks like ids) or is none of the forms; ENOENT when it is a word,
// or a malformed filter, close to a device's name that names no device (with the closest
// names), or a group number above 2^32-1. Whether a group or a filter matches is not checked here
// (select_groups does).
Result<Selector> parse_selector(const Host& host, std::string_view text,
                                SelectorForms forms = SelectorForms::kOperand);

// A group in a selection, and why it is there.
struct SelectedGroup {
  const Group* group = nullptr;  // into the Host given to select_groups
  // True when the group itself was asked for: its number, or "all groups" (no operands).
  bool group_given = false;
  // Devices asked for, in group order: every device when `group_given`, else those a device
  // selector matched.
  std::vector<std::string> selected_devices;
  // The group's other devices, in group order: a VFIO container takes whole groups, so they
  // come along. Empty when `group_given`.
  std::vector<std::string> brought_along;
  // The operands, then the id filters, that reached the group, as given.
  std::vector<std::string> reached_by;
};

struct Selection {
  std::vector<SelectedGroup> groups;  // in the order first reached

  std::vector<const Group*> group_list() const;  // same order
  std::vector<uint32_t> group_ids() const;       // same order
};

// The groups that `selectors` (command operands, each read by parse_selector) and
// `id_filters` (-d texts, parse_id_filter) reach: operands first, in order, then the filters;
// within one selector, groups in the host's order. No operand and no filter means every group
// when `all_if_empty`, else EINVAL ("no group or device given"). Errors, the first one found:
//   EINVAL  a malformed operand or filter; a group number given twice ("group 7 given
//           twice"; a device and its group both given is fine, as are overlapping filters);
//   ENOENT  an operand or filter that matches nothing, named with where it was looked for and
//           the closest device or group when one is cheap to find ("no device matches
//           '01:00.1' in snapshot DIR (closest: 0000:01:00.0)", "no group 9 in snapshot DIR
//           (its groups: 0-8)").
Result<Selection> select_groups(const Host& host, const std::vector<std::string>& selectors,
                                const std::vector<std::string>& id_filters, bool all_if_empty);

// One line per group that brings devices along that were not asked for, saying which and why:
// "group 6: 0000:00:1f.0 and 0000:00:1f.3 come along with 0000:00:1f.2 (a VFIO container
// takes whole groups)". Empty when every group was taken whole on purpose.
std::vector<std::string> selection_notes(const Selection& selection);

// A declared DMA limit, `SELECTOR=BITS`: "01:00.0=36", "7=32", "8086:10d3=40",
// "fd000000.usb=32".
struct DmaLimitDeclaration {
  std::string text;  // as given
  Selector selector;
  unsigned bits = 64;  // 1 to 64
};

// Reads `SELECTOR=BITS` (split at the last '='; BITS decimal 1 to 64; SELECTOR by
// parse_selector with SelectorForms::kWithIds). EINVAL for a malformed declaration, ENOENT
// for a device name that names nothing; errors start "DMA limit 'TEXT': ".
Result<DmaLimitDeclaration> parse_dma_limit(const Host& host, std::string_view text);

// Gives every device each declaration matches `declared_dma_bits` (all devices of a numbered
// group; every match of a filter), replacing what a topology file declared. All or nothing:
// on error the host is unchanged. Errors: a malformed declaration (EINVAL); one that matches
// no device (ENOENT, worded as select_groups does); one device named by two declarations, by
// whatever forms, even with equal bits (EINVAL, naming both declarations and the device).
Status apply_dma_limits(Host* host, const std::vector<std::string>& specs);

}  // namespace iovamap
