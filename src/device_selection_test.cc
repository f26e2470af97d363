// Device selection: lspci's -s and -d grammars by hand and against libpci itself (RapidCheck,
// when libpci is installed), operands and their errors, group selection and DMA-limit
// declarations on the real 6.12 Intel snapshot, and platform devices on a hand-made host.
#include "iovamap/device_selection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstring>

#include "iovamap/discovery.h"
#include "iovamap/sysfs_reader.h"

#ifdef IOVAMAP_HAVE_LIBPCI
extern "C" {
#include <pci/pci.h>
}
#endif

namespace iovamap {
namespace {

using ::testing::HasSubstr;

// ---- the slot filter (lspci -s) ---------------------------------------------------------------

SlotFilter slot(std::string_view text) {
  Result<SlotFilter> f = parse_slot_filter(text);
  EXPECT_TRUE(f) << text << ": " << f.error().message;
  return f ? *f : SlotFilter{};
}

TEST(DeviceSelectionSlot, FieldRolesFollowTheNumberOfColons) {
  EXPECT_EQ(slot("01:00.0"), (SlotFilter{.bus = 1, .slot = 0, .function = 0}));
  EXPECT_EQ(slot("0000:01:00.0"), (SlotFilter{.domain = 0, .bus = 1, .slot = 0, .function = 0}));
  EXPECT_EQ(slot("00:1f"), (SlotFilter{.bus = 0, .slot = 0x1f}));
  EXPECT_EQ(slot("01:00"), (SlotFilter{.bus = 1, .slot = 0}));
  // The examples of `man lspci`: "0:" is bus 0, "0" is slot 0 on any bus, "0.3" function 3 of
  // slot 0 on every bus, ".4" function 4 of every slot.
  EXPECT_EQ(slot("0:"), (SlotFilter{.bus = 0}));
  EXPECT_EQ(slot("0"), (SlotFilter{.slot = 0}));
  EXPECT_EQ(slot("0.3"), (SlotFilter{.slot = 0, .function = 3}));
  EXPECT_EQ(slot(".4"), (SlotFilter{.function = 4}));
  // Empty and "*" are "any"; an omitted domain is any domain, not 0.
  EXPECT_EQ(slot(""), SlotFilter{});
  EXPECT_EQ(slot("*"), SlotFilter{});
  EXPECT_EQ(slot("::"), SlotFilter{});
  EXPECT_EQ(slot("*:*:*.*"), SlotFilter{});
  EXPECT_EQ(slot("1:*.2"), (SlotFilter{.bus = 1, .function = 2}));
  EXPECT_EQ(slot("::.7"), (SlotFilter{.function = 7}));
  EXPECT_EQ(slot("5::"), (SlotFilter{.domain = 5}));
}

TEST(DeviceSelectionSlot, HexOfEitherCaseUpToEachMaximum) {
  EXPECT_EQ(slot("7fffffff:ff:1f.7"),
            (SlotFilter{.domain = 0x7fffffff, .bus = 0xff, .slot = 0x1f, .function = 7}));
  EXPECT_EQ(slot("0A:1F.7"), (SlotFilter{.bus = 0x0a, .slot = 0x1f, .function = 7}));
  // libpci counts in 32 bits: a nine-digit domain can wrap below its maximum and pass.
  EXPECT_EQ(slot("123456789:00:00.0"),
            (SlotFilter{.domain = 0x23456789, .bus = 0, .slot = 0, .function = 0}));
  EXPECT_EQ(slot("100000000:0:0"), (SlotFilter{.domain = 0, .bus = 0, .slot = 0}));
  EXPECT_FALSE(parse_slot_filter("800000000:0:0"));
  EXPECT_EQ(slot("000000000000000000000000000001:0000000000001f"),
            (SlotFilter{.bus = 1, .slot = 0x1f}));  // leading zeros never count
  for (std::string_view bad :
       {"80000000:00:00.0", "100:00.0", "00:20.0", "00:00.8", "0x1:00.0", "-1:00.0", "+1:00.0",
        " 01:00.0", "01:00.0 ", "g", "1.2.3", "0:0:0:0", "01:00.x", "\n"}) {
    Result<SlotFilter> f = parse_slot_filter(bad);
    ASSERT_FALSE(f) << bad;
    EXPECT_EQ(f.error().code, EINVAL);
    EXPECT_THAT(f.error().message, HasSubstr("is not a PCI slot filter")) << bad;
  }
  EXPECT_THAT(parse_slot_filter("00:20.0").error().message, HasSubstr("slot '20' is above 1f"));
  EXPECT_THAT(parse_slot_filter("0x1:00.0").error().message,
              HasSubstr("bus '0x1' has 'x', not a hex digit"));
  EXPECT_THAT(parse_slot_filter("1.2.3").error().message, HasSubstr("more than one '.'"));
  // libpci's 64-byte buffer: 63 characters are read, 64 refused.
  EXPECT_TRUE(parse_slot_filter(std::string(61, '0') + ":1"));
  EXPECT_FALSE(parse_slot_filter(std::string(62, '0') + ":1"));
}

TEST(DeviceSelectionSlot, MatchesPciAddresses) {
  PciAddress nic{.domain = 0, .bus = 1, .slot = 0, .function = 0};
  EXPECT_TRUE(slot("01:00.0").matches(nic));
  EXPECT_TRUE(slot("1:0").matches(nic));
  EXPECT_TRUE(slot(".0").matches(nic));
  EXPECT_FALSE(slot("01:00.1").matches(nic));
  EXPECT_FALSE(slot("0001:01:00.0").matches(nic));
  EXPECT_FALSE(slot("02:").matches(nic));
  EXPECT_TRUE(slot("ffff:01:00.0").matches(PciAddress{.domain = 0xffff, .bus = 1}));
  // Only PCI devices: a platform device never matches, not even "everything".
  EXPECT_TRUE(slot("").matches(Device{.name = "0000:01:00.0"}));
  EXPECT_FALSE(slot("").matches(Device{.name = "fd000000.usb", .is_pci = false}));
}

TEST(DeviceSelectionSlot, SysfsNames) {
  EXPECT_EQ(parse_pci_address("0000:01:00.0"), (PciAddress{.bus = 1}));
  EXPECT_EQ(parse_pci_address("0000:00:1f.3"), (PciAddress{.slot = 0x1f, .function = 3}));
  // VMD puts devices in domains from 0x10000 (drivers/pci/controller/vmd.c).
  EXPECT_EQ(parse_pci_address("10000:e1:00.0"), (PciAddress{.domain = 0x10000, .bus = 0xe1}));
  EXPECT_EQ(parse_pci_address("0000:0A:1F.7"),
            (PciAddress{.bus = 0xa, .slot = 0x1f, .function = 7}));
  for (std::string_view bad :
       {"", "01:00.0", "0000:01:00.8", "0000:01:20.0", "0000:1:00.0", "0000:01:00.00",
        "000:01:00.0", "fd000000.usb", "0000-01:00.0", "000000000:01:00.0"})
    EXPECT_EQ(parse_pci_address(bad), std::nullopt) << bad;
}

// ---- the id filter (lspci -d) -----------------------------------------------------------------

IdFilter ids(std::string_view text) {
  Result<IdFilter> f = parse_id_filter(text);
  EXPECT_TRUE(f) << text << ": " << f.error().message;
  return f ? *f : IdFilter{};
}

TEST(DeviceSelectionIds, Fields) {
  EXPECT_EQ(ids("8086:10d3"), (IdFilter{.vendor = 0x8086, .device = 0x10d3}));
  EXPECT_EQ(ids("8086:"), (IdFilter{.vendor = 0x8086}));
  EXPECT_EQ(ids(":10D3"), (IdFilter{.device = 0x10d3}));
  EXPECT_EQ(ids("*:*"), IdFilter{});
  EXPECT_EQ(ids(":"), IdFilter{});
  EXPECT_EQ(ids("::0200"), (IdFilter{.device_class = 0x0200}));
  EXPECT_EQ(ids("::02xx"), (IdFilter{.device_class = 0x0200, .class_mask = 0xff00}));
  EXPECT_EQ(ids("::x2X0"), (IdFilter{.device_class = 0x0200, .class_mask = 0x0f0f}));
  EXPECT_EQ(ids("::xxxx"), (IdFilter{.device_class = 0, .class_mask = 0}));
  EXPECT_EQ(ids(":::20"), (IdFilter{.prog_if = 0x20}));
  EXPECT_EQ(
      ids("1b21:2142:0c03:30"),
      (IdFilter{.vendor = 0x1b21, .device = 0x2142, .device_class = 0x0c03, .prog_if = 0x30}));
  for (std::string_view bad :
       {"8086", "", "8086:10d3:0200:01:00", "10000:0", "0:10000", ":::100", "8086:x", "::1xxxx",
        "::xxxxx", "::x0000", "::2xxxx", ":::x", "0x8086:10d3", "8086:10d3 "}) {
    Result<IdFilter> f = parse_id_filter(bad);
    ASSERT_FALSE(f) << bad;
    EXPECT_EQ(f.error().code, EINVAL);
    EXPECT_THAT(f.error().message, HasSubstr("is not a PCI id filter")) << bad;
  }
  EXPECT_THAT(parse_id_filter("8086").error().message, HasSubstr("at least vendor:device"));
  // An 'x' counts as 1 towards the limit: "1xxxx" is 0x11111 > 0xffff; "xxxx" is 0x1111.
  EXPECT_THAT(parse_id_filter("::1xxxx").error().message, HasSubstr("class '1xxxx' is above ffff"));
  EXPECT_THAT(parse_id_filter("::x0000").error().message, HasSubstr("class 'x0000' is above ffff"));
  EXPECT_TRUE(parse_id_filter("::0000x"));  // leading zeros count for nothing, even before an x
}

TEST(DeviceSelectionIds, ClassIsBaseAndSubclass) {
  const uint32_t ethernet = 0x020000, other_network = 0x028000, ehci = 0x0c0320, uhci = 0x0c0300;
  EXPECT_TRUE(ids("::0200").matches(0x8086, 0x10d3, ethernet));
  EXPECT_FALSE(ids("::0200").matches(0x8086, 0x10d3, other_network));
  EXPECT_FALSE(ids("::02").matches(0x8086, 0x10d3, ethernet));  // class 0x0002, as lspci reads it
  EXPECT_TRUE(ids("::02xx").matches(0x8086, 0x10d3, other_network));
  EXPECT_TRUE(ids(":::20").matches(0x8086, 0x293a, ehci));
  EXPECT_FALSE(ids(":::20").matches(0x8086, 0x2934, uhci));
  EXPECT_TRUE(ids("8086::0c03:00").matches(0x8086, 0x2934, uhci));
  EXPECT_FALSE(ids("8086:10d3").matches(0x8086, 0x10d4, ethernet));
  EXPECT_FALSE(ids(":").matches(Device{.name = "a.usb", .is_pci = false}) ||
               ids("*:*").matches(Device{.name = "a.usb", .is_pci = false}));
}

// ---- against libpci ---------------------------------------------------------------------------

// Filter texts near the grammars: fields that are mostly valid somewhere (often with leading
// zeros, '*', empty or 'x'), sometimes too large or holding a character libpci refuses, joined
// by ':' with now and then a '.' (at the end for slot filters); and sometimes any string over
// that alphabet, or one about the 63-character limit.
rc::Gen<std::string> gen_field() {
  return rc::gen::weightedOneOf<std::string>({
      {6, rc::gen::element<std::string>("", "*", "0", "00", "1", "01", "1f", "7", "0000", "ff",
                                        "8086", "10d3", "0200", "02xx", "x", "xX", "20", "3")},
      {2, rc::gen::element<std::string>("100", "8", "20", "7fffffff", "80000000", "10000", "ffff",
                                        "1xxxx", "xxxx", "xxxxx", "x0000", "0000x", "fffff", "0x1",
                                        "g", " 1", "-1", "123456789", "100000000", "fffffffff")},
      {2, rc::gen::mapcat(rc::gen::inRange<size_t>(1, 11),
                          [](size_t n) {
                            return rc::gen::container<std::string>(
                                n, rc::gen::element('0', '0', '0', '1', '2', '7', '8', '9', 'a',
                                                    'f', 'F', 'x', 'X'));
                          })},
      {1, rc::gen::map(rc::gen::inRange(0, 0x12000),
                       [](int v) {
                         char buf[16];
                         std::snprintf(buf, sizeof buf, "%x", v);
                         return std::string(buf);
                       })},
  });
}

rc::Gen<std::string> gen_filter_text(bool slot_syntax) {
  auto fields = slot_syntax ? rc::gen::element(1, 2, 2, 3, 3, 3, 4)
                            : rc::gen::element(1, 2, 2, 2, 3, 3, 4, 5);
  auto structured = rc::gen::mapcat(fields, [slot_syntax](int n) {
    return rc::gen::map(
        rc::gen::pair(rc::gen::container<std::vector<std::string>>(n, gen_field()),
                      rc::gen::container<std::vector<int>>(n, rc::gen::inRange(0, 8))),
        [slot_syntax](const std::pair<std::vector<std::string>, std::vector<int>>& p) {
          std::string out;
          const size_t count = p.first.size();
          for (size_t i = 0; i < count; ++i) {
            // Slot filters end in ".func" half of the time; any separator is a '.' rarely.
            const bool dot =
                p.second[i] == 0 || (slot_syntax && i + 1 == count && count > 1 && p.second[i] < 4);
            if (i > 0) out += dot ? '.' : ':';
            out += p.first[i];
          }
          return out;
        });
  });
  auto noise = rc::gen::container<std::string>(
      rc::gen::element('0', '1', 'a', 'F', 'x', 'X', '*', ':', ':', '.', 'g', ' ', '-'));
  auto long_text = rc::gen::map(rc::gen::inRange<size_t>(58, 70),
                                [](size_t n) { return std::string(n - 3, '0') + ":1" + "f"; });
  return rc::gen::weightedOneOf<std::string>({{7, structured}, {2, noise}, {1, long_text}});
}

#ifdef IOVAMAP_HAVE_LIBPCI

// libpci's reading of a filter, and its verdict on a device. pci_filter_match only compares
// fields it knows, and with known_fields saying every field is filled it asks no access method
// (lib/access.c, pci_fill_info), so a pci_dev that never came from a bus is enough.
struct LibpciFilter {
  pci_filter filter;
  const char* error;
};

LibpciFilter libpci_parse(const std::string& text, bool slot_syntax) {
  LibpciFilter out{};
  pci_filter_init(nullptr, &out.filter);
  std::vector<char> copy(text.begin(), text.end());
  copy.push_back('\0');
  out.error = slot_syntax ? pci_filter_parse_slot(&out.filter, copy.data())
                          : pci_filter_parse_id(&out.filter, copy.data());
  return out;
}

bool libpci_match(pci_filter filter, const PciAddress& a, uint16_t vendor, uint16_t device,
                  uint32_t class_code) {
  pci_dev dev{};
  dev.domain = static_cast<int>(a.domain);
  dev.bus = a.bus;
  dev.dev = a.slot;
  dev.func = a.function;
  dev.vendor_id = vendor;
  dev.device_id = device;
  dev.device_class = static_cast<uint16_t>(class_code >> 8);
  dev.prog_if = static_cast<uint8_t>(class_code);
  dev.known_fields = PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_CLASS_EXT;
  return pci_filter_match(&filter, &dev) != 0;
}

template <class T>
int as_libpci(const std::optional<T>& v) {
  return v ? static_cast<int>(*v) : -1;
}

// A value near `wanted` (when the filter has one) or anywhere in [0, max].
rc::Gen<uint32_t> near(int wanted, uint32_t max) {
  if (wanted < 0) return rc::gen::inRange<uint32_t>(0, max + 1);
  return rc::gen::oneOf(rc::gen::just(static_cast<uint32_t>(wanted)),
                        rc::gen::inRange<uint32_t>(0, max + 1));
}

void check_slot_filter(const std::string& text) {
  RC_LOG() << "slot filter '" << text << "'\n";
  LibpciFilter theirs = libpci_parse(text, true);
  Result<SlotFilter> ours = parse_slot_filter(text);
  RC_ASSERT(ours.ok() == (theirs.error == nullptr));
  if (!ours) return;
  const pci_filter& f = theirs.filter;
  RC_ASSERT(as_libpci(ours->domain) == f.domain);
  RC_ASSERT(as_libpci(ours->bus) == f.bus);
  RC_ASSERT(as_libpci(ours->slot) == f.slot);
  RC_ASSERT(as_libpci(ours->function) == f.func);
  for (int i = 0; i < 8; ++i) {
    PciAddress a{.domain = *near(f.domain, 0x7fffffff),
                 .bus = static_cast<uint8_t>(*near(f.bus, 0xff)),
                 .slot = static_cast<uint8_t>(*near(f.slot, 0x1f)),
                 .function = static_cast<uint8_t>(*near(f.func, 7))};
    RC_ASSERT(ours->matches(a) == libpci_match(f, a, 0, 0, 0));
  }
}

void check_id_filter(const std::string& text) {
  RC_LOG() << "id filter '" << text << "'\n";
  LibpciFilter theirs = libpci_parse(text, false);
  Result<IdFilter> ours = parse_id_filter(text);
  RC_ASSERT(ours.ok() == (theirs.error == nullptr));
  if (!ours) return;
  const pci_filter& f = theirs.filter;
  RC_ASSERT(as_libpci(ours->vendor) == f.vendor);
  RC_ASSERT(as_libpci(ours->device) == f.device);
  RC_ASSERT(as_libpci(ours->device_class) == f.device_class);
  RC_ASSERT(as_libpci(ours->prog_if) == f.prog_if);
  if (ours->device_class) RC_ASSERT(ours->class_mask == (f.device_class_mask & 0xffff));
  for (int i = 0; i < 8; ++i) {
    const uint16_t vendor = static_cast<uint16_t>(*near(f.vendor, 0xffff));
    const uint16_t device = static_cast<uint16_t>(*near(f.device, 0xffff));
    // A class that agrees with the filter's in the compared bits, anything elsewhere.
    uint32_t cls = *near(f.device_class, 0xffff);
    if (f.device_class >= 0 && *rc::gen::arbitrary<bool>())
      cls = (static_cast<uint32_t>(f.device_class) & f.device_class_mask) |
            (*rc::gen::inRange<uint32_t>(0, 0x10000) & ~f.device_class_mask & 0xffff);
    const uint32_t class_code = cls << 8 | *near(f.prog_if, 0xff);
    RC_ASSERT(ours->matches(vendor, device, class_code) ==
              libpci_match(f, PciAddress{}, vendor, device, class_code));
  }
}

// Ten texts a case: about a fifth of them are valid filters, whose matching is then compared.
RC_GTEST_PROP(DeviceSelectionLibpci, SlotFiltersReadAndMatchAsLibpci, ()) {
  for (const std::string& text :
       *rc::gen::container<std::vector<std::string>>(10, gen_filter_text(true)))
    check_slot_filter(text);
}

RC_GTEST_PROP(DeviceSelectionLibpci, IdFiltersReadAndMatchAsLibpci, ()) {
  for (const std::string& text :
       *rc::gen::container<std::vector<std::string>>(10, gen_filter_text(false)))
    check_id_filter(text);
}

#else

TEST(DeviceSelectionLibpci, SlotFiltersReadAndMatchAsLibpci) {
  GTEST_SKIP() << "libpci (libpci-dev) not found by CMake: lspci's filters are not checked";
}
TEST(DeviceSelectionLibpci, IdFiltersReadAndMatchAsLibpci) {
  GTEST_SKIP() << "libpci (libpci-dev) not found by CMake: lspci's filters are not checked";
}

#endif

// ---- operands, selections and declarations on the real Intel snapshot ------------------------

const Host& intel39() {
  static const Host host = [] {
    const std::string root = std::string(IOVAMAP_TEST_DATA) + "/snapshots/6.12-intel39/root";
    auto reader = open_root_reader(root);
    EXPECT_TRUE(reader) << reader.error().message;
    Result<Discovery> d = discover(**reader, "snapshot " + root);
    EXPECT_TRUE(d) << d.error().message;
    return d ? d->host : Host{};
  }();
  return host;
}

Selection select(const std::vector<std::string>& operands, const std::vector<std::string>& id = {},
                 bool all_if_empty = false) {
  Result<Selection> s = select_groups(intel39(), operands, id, all_if_empty);
  EXPECT_TRUE(s) << s.error().message;
  return s ? *s : Selection{};
}

Error select_error(const std::vector<std::string>& operands,
                   const std::vector<std::string>& id = {}) {
  Result<Selection> s = select_groups(intel39(), operands, id, false);
  EXPECT_FALSE(s);
  return s ? Error{} : s.error();
}

using Ids = std::vector<uint32_t>;
using Names = std::vector<std::string>;

TEST(DeviceSelectionSnapshot, TheNicByNumberAddressIdsAndName) {
  ASSERT_EQ(intel39().groups.size(), 9u);
  for (std::string operand : {"7", "01:00.0", "0000:01:00.0", "1:0.0", "01:00", "01:"}) {
    Selection s = select({operand});
    EXPECT_EQ(s.group_ids(), Ids{7}) << operand;
    ASSERT_EQ(s.groups.size(), 1u);
    EXPECT_EQ(s.groups[0].selected_devices, Names{"0000:01:00.0"});
    EXPECT_TRUE(s.groups[0].brought_along.empty());
    EXPECT_EQ(s.groups[0].reached_by, Names{operand});
    EXPECT_EQ(s.groups[0].group_given, operand == "7");
  }
  Selection by_ids = select({}, {"8086:10d3"});
  EXPECT_EQ(by_ids.group_ids(), Ids{7});
  EXPECT_EQ(by_ids.group_list(), std::vector<const Group*>{intel39().find_group(7)});
  EXPECT_EQ(select({}, {"8086:10d3:0200"}).group_ids(), Ids{7});
  EXPECT_EQ(select({}, {":10d3"}).group_ids(), Ids{7});
}

TEST(DeviceSelectionSnapshot, ASlotOfAGroupBringsTheWholeGroup) {
  Selection s = select({"00:1f.2"});
  ASSERT_EQ(s.group_ids(), Ids{6});
  EXPECT_FALSE(s.groups[0].group_given);
  EXPECT_EQ(s.groups[0].selected_devices, Names{"0000:00:1f.2"});
  EXPECT_EQ(s.groups[0].brought_along, (Names{"0000:00:1f.0", "0000:00:1f.3"}));
  EXPECT_EQ(selection_notes(s),
            Names{"group 6: 0000:00:1f.0 and 0000:00:1f.3 come along with 0000:00:1f.2 (a VFIO "
                  "container takes whole groups)"});
  // The virtio NIC behind its bridge: the bridge comes along.
  Selection virtio = select({}, {"1af4:1000"});
  ASSERT_EQ(virtio.group_ids(), Ids{8});
  EXPECT_EQ(selection_notes(virtio),
            Names{"group 8: 0000:02:00.0 comes along with 0000:03:01.0 (a VFIO container takes "
                  "whole groups)"});
  // The slot's every function, the group given, or all groups: nothing comes along.
  EXPECT_TRUE(selection_notes(select({"00:1f"})).empty());
  EXPECT_EQ(select({"00:1f"}).groups[0].selected_devices.size(), 3u);
  EXPECT_TRUE(selection_notes(select({"6"})).empty());
  EXPECT_TRUE(selection_notes(select({}, {}, true)).empty());
  // Two of three functions: one note naming both.
  EXPECT_EQ(selection_notes(select({"00:1f.0", "00:1f.3"})),
            Names{"group 6: 0000:00:1f.2 comes along with 0000:00:1f.0 and 0000:00:1f.3 (a VFIO "
                  "container takes whole groups)"});
}

TEST(DeviceSelectionSnapshot, GroupsInTheOrderFirstReached) {
  EXPECT_EQ(select({"01:00.0", "6"}, {"1af4:1000"}).group_ids(), (Ids{7, 6, 8}));
  // One selector reaching several groups gives them in the host's order.
  EXPECT_EQ(select({"8"}, {"8086:"}).group_ids(), (Ids{8, 0, 4, 5, 6, 7}));
  EXPECT_EQ(select({"00:"}).group_ids(), (Ids{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(select({}, {"::0200"}).group_ids(), (Ids{4, 7, 8}));
  EXPECT_EQ(select({}, {"::0cxx"}).group_ids(), (Ids{5, 6}));
  EXPECT_EQ(select({}, {}, true).group_ids(), (Ids{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  // A device and its group, overlapping filters, a device twice: each group once.
  Selection s = select({"01:00.0", "7", "0000:01:00.0"}, {"8086:10d3", "::0200"});
  EXPECT_EQ(s.group_ids(), (Ids{7, 4, 8}));
  EXPECT_TRUE(s.groups[0].group_given);
  EXPECT_EQ(s.groups[0].reached_by, (Names{"01:00.0", "7", "0000:01:00.0", "8086:10d3", "::0200"}));
}

TEST(DeviceSelectionSnapshot, OneWordingForEveryMistake) {
  const std::string in =
      " in snapshot " + std::string(IOVAMAP_TEST_DATA) + "/snapshots/6.12-intel39/root";
  Error e = select_error({"01:00.1"});
  EXPECT_EQ(e.code, ENOENT);
  EXPECT_EQ(e.message, "no device matches '01:00.1'" + in + " (closest: 0000:01:00.0)");
  EXPECT_EQ(
      select_error({"00:1f.5"}).message,
      "no device matches '00:1f.5'" + in + " (closest: 0000:00:1f.0, 0000:00:1f.2, 0000:00:1f.3)");
  EXPECT_EQ(select_error({"0001:01:00.0"}).message,
            "no device matches '0001:01:00.0'" + in + " (closest: 0000:01:00.0)");
  e = select_error({"99"});
  EXPECT_EQ(e.code, ENOENT);
  EXPECT_EQ(e.message, "no group 99" + in + " (its groups: 0-8)");
  EXPECT_EQ(select_error({"99999999999999999999"}).message,
            "no group '99999999999999999999'" + in + " (its groups: 0-8)");
  e = select_error({"7", "01:00.0", "07"});
  EXPECT_EQ(e.code, EINVAL);
  EXPECT_EQ(e.message, "group 7 given twice");
  e = select_error({"x"});
  EXPECT_EQ(e.code, ENOENT);
  EXPECT_EQ(e.message, "'x' is not a group number, nor a PCI address or device name" + in);
  EXPECT_THAT(select_error({"1f"}).message,
              HasSubstr("(slot 1f on any bus is written ':1f', as with lspci -s)"));
  // A malformed slot filter says why, unless it is a near miss of a device's name.
  e = select_error({"00:00.9"});
  EXPECT_EQ(e.code, EINVAL);
  EXPECT_THAT(e.message, HasSubstr("'00:00.9' is not a PCI slot filter"));
  EXPECT_THAT(e.message, HasSubstr("function '9' is above 7"));
  EXPECT_EQ(select_error({"0000:01:00.O"}).message,  // a letter O
            "no device matches '0000:01:00.O'" + in + " (closest: 0000:01:00.0)");
  e = select_error({"8086:10d3"});
  EXPECT_EQ(e.code, EINVAL);
  EXPECT_THAT(e.message,
              HasSubstr("bus '8086' is above ff; for vendor:device ids use -d '8086:10d3'"));
  e = select_error({}, {"8086:1234"});
  EXPECT_EQ(e.code, ENOENT);
  EXPECT_EQ(e.message, "no device matches '8086:1234'" + in +
                           " (closest: 0000:00:00.0 (8086:29c0), 0000:00:04.0 (8086:100e), "
                           "0000:00:1d.0 (8086:2934), ...)");
  EXPECT_EQ(select_error({}, {"8086:10d3:0600"}).message,
            "no device matches '8086:10d3:0600'" + in + " (closest: 0000:01:00.0 (8086:10d3))");
  e = select_error({}, {"8086"});
  EXPECT_EQ(e.code, EINVAL);
  EXPECT_THAT(e.message, HasSubstr("'8086' is not a PCI id filter"));
  e = select_error({}, {});
  EXPECT_EQ(e.code, EINVAL);
  EXPECT_EQ(e.message, "no group or device given");
  EXPECT_EQ(select_error({""}).code, EINVAL);
  // The first mistake wins, in order: operands, then filters.
  EXPECT_THAT(select_error({"7", "99"}, {"8086"}).message, HasSubstr("no group 99"));
}

TEST(DeviceSelectionSnapshot, HostileOperandsAreQuotedShortAndEscaped) {
  std::string huge(1 << 20, 'a');
  huge += "\n\x1b[31m\xff";
  for (const std::string& text : {huge, std::string("bad\n\x1b[2Jname"), std::string("a'b\\c")}) {
    for (bool as_filter : {false, true}) {
      Error e = as_filter ? select_error({}, {text}) : select_error({text});
      EXPECT_LT(e.message.size(), 400u);
      EXPECT_TRUE(std::none_of(e.message.begin(), e.message.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f;
      })) << e.message;
    }
  }
  EXPECT_THAT(select_error({"bad\n\x1b[2Jname"}).message, HasSubstr("'bad\\n\\x1b[2Jname'"));
  EXPECT_THAT(select_error({huge}).message, HasSubstr("'... (1048583 bytes)"));
  EXPECT_THAT(select_error({"a'b\\c"}).message, HasSubstr("'a\\'b\\\\c'"));
}

// ---- DMA-limit declarations --------------------------------------------------------------------

std::optional<unsigned> declared(const Host& host, std::string_view name) {
  for (const Group& g : host.groups)
    for (const Device& d : g.devices)
      if (d.name == name) return d.declared_dma_bits;
  ADD_FAILURE() << "no device " << name;
  return std::nullopt;
}

TEST(DeviceSelectionDmaLimit, EveryFormReachesTheDevice) {
  for (std::string spec :
       {"01:00.0=36", "0000:01:00.0=36", "8086:10d3=36", "7=36", "8086:10d3:0200=36", ":10d3=36"}) {
    Host host = intel39();
    ASSERT_TRUE(apply_dma_limits(&host, {spec})) << spec;
    EXPECT_EQ(declared(host, "0000:01:00.0"), 36u) << spec;
    EXPECT_EQ(declared(host, "0000:00:04.0"), std::nullopt) << spec;
  }
  Host host = intel39();
  ASSERT_TRUE(apply_dma_limits(&host, {"6=32", "1af4:1000=40", "00:04.0=64", "0000:00:00.0=1"}));
  for (const char* name : {"0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3"})
    EXPECT_EQ(declared(host, name), 32u);
  EXPECT_EQ(declared(host, "0000:03:01.0"), 40u);
  EXPECT_EQ(declared(host, "0000:02:00.0"), std::nullopt);  // the declaration names one device
  EXPECT_EQ(declared(host, "0000:00:04.0"), 64u);
  EXPECT_EQ(declared(host, "0000:00:00.0"), 1u);
}

TEST(DeviceSelectionDmaLimit, HowASelectorIsRead) {
  auto kind = [](std::string_view spec) {
    Result<DmaLimitDeclaration> d = parse_dma_limit(intel39(), spec);
    EXPECT_TRUE(d) << spec << ": " << d.error().message;
    return d ? d->selector.kind : SelectorKind::kGroupNumber;
  };
  EXPECT_EQ(kind("7=32"), SelectorKind::kGroupNumber);
  EXPECT_EQ(kind("0000:01:00.0=32"), SelectorKind::kDeviceName);
  EXPECT_EQ(kind("01:00.0=32"), SelectorKind::kSlotFilter);
  EXPECT_EQ(kind("01:00=32"), SelectorKind::kSlotFilter);
  EXPECT_EQ(kind("10:00=32"), SelectorKind::kSlotFilter);  // bus 10, slot 0
  EXPECT_EQ(kind("0000:01:00=32"), SelectorKind::kSlotFilter);
  EXPECT_EQ(kind("*:*=32"), SelectorKind::kSlotFilter);
  EXPECT_EQ(kind("8086:10d3=32"), SelectorKind::kIdFilter);
  EXPECT_EQ(kind("8086:=32"), SelectorKind::kIdFilter);
  EXPECT_EQ(kind("*:10d3=32"), SelectorKind::kIdFilter);
  EXPECT_EQ(kind("1b21:2142:0c03=32"), SelectorKind::kIdFilter);
  EXPECT_EQ(kind("0000:0001=32"), SelectorKind::kIdFilter);  // four digits each: ids
  Result<DmaLimitDeclaration> d = parse_dma_limit(intel39(), "8086:10d3=40");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->text, "8086:10d3=40");
  EXPECT_EQ(d->bits, 40u);
  EXPECT_EQ(d->selector.ids, (IdFilter{.vendor = 0x8086, .device = 0x10d3}));
}

TEST(DeviceSelectionDmaLimit, Mistakes) {
  const std::string in =
      " in snapshot " + std::string(IOVAMAP_TEST_DATA) + "/snapshots/6.12-intel39/root";
  auto error = [](const std::vector<std::string>& specs) {
    Host host = intel39();
    Status s = apply_dma_limits(&host, specs);
    EXPECT_FALSE(s);
    // All or nothing: no device got a limit.
    for (const Group& g : host.groups)
      for (const Device& dev : g.devices) EXPECT_EQ(dev.declared_dma_bits, std::nullopt);
    return s ? Error{} : s.error();
  };
  for (std::string spec : {"01:00.0=0", "01:00.0=65", "01:00.0=", "01:00.0=3x", "01:00.0=+5",
                           "01:00.0= 5", "01:00.0=99999999999999999999"}) {
    Error e = error({spec});
    EXPECT_EQ(e.code, EINVAL);
    EXPECT_EQ(e.message, "DMA limit '" + spec + "': BITS must be 1 to 64");
  }
  EXPECT_EQ(error({"01:00.0"}).message,
            "DMA limit '01:00.0': expected SELECTOR=BITS (e.g. 01:00.0=36)");
  Error e = error({"01:00.1=32"});
  EXPECT_EQ(e.code, ENOENT);
  EXPECT_EQ(e.message, "DMA limit '01:00.1=32': no device matches '01:00.1'" + in +
                           " (closest: 0000:01:00.0)");
  EXPECT_EQ(error({"9=32"}).message, "DMA limit '9=32': no group 9" + in + " (its groups: 0-8)");
  EXPECT_EQ(error({"8086:1234=32"}).code, ENOENT);
  EXPECT_EQ(error({"=32"}).code, EINVAL);
  EXPECT_THAT(error({"10:00=32"}).message, HasSubstr("no device matches '10:00'"));
  // The same device twice, by any forms, even with the same bits.
  e = error({"01:00.0=36", "00:04.0=32", "8086:10d3=40"});
  EXPECT_EQ(e.code, EINVAL);
  EXPECT_EQ(e.message, "DMA limits '01:00.0=36' and '8086:10d3=40' both name 0000:01:00.0");
  EXPECT_THAT(error({"7=36", "0000:01:00.0=36"}).message,
              HasSubstr("'7=36' and '0000:01:00.0=36' both name 0000:01:00.0"));
  EXPECT_THAT(error({"1af4::0200=36", "03:01.0=40"}).message, HasSubstr("both name 0000:03:01.0"));
  EXPECT_EQ(error({"01:00.0=36", "01:00.0=36"}).code, EINVAL);
  // Control characters never reach the message raw.
  e = error({"\x1b[2J=32"});
  EXPECT_THAT(e.message, HasSubstr("'\\x1b[2J=32'"));
}

// ---- platform devices and hand-made hosts ------------------------------------------------------

Host platform_host() {
  Host host;
  host.source = "topology arm.toml";
  host.groups.push_back(Group{.id = 3,
                              .devices = {Device{.name = "fd000000.usb", .is_pci = false},
                                          Device{.name = "soc:gpu@ff9a0000", .is_pci = false}}});
  host.groups.push_back(Group{
      .id = 11,
      .devices = {Device{
          .name = "0002:00:00.0", .vendor = 0x1d87, .device_id = 0x3566, .class_code = 0x060400}}});
  return host;
}

TEST(DeviceSelectionPlatform, ExactNamesWinWhateverTheirPunctuation) {
  const Host host = platform_host();
  Result<Selection> s = select_groups(host, {"soc:gpu@ff9a0000"}, {}, false);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->group_ids(), Ids{3});
  EXPECT_EQ(s->groups[0].brought_along, Names{"fd000000.usb"});
  EXPECT_EQ(select_groups(host, {"fd000000.usb"}, {}, false)->group_ids(), Ids{3});
  EXPECT_EQ(parse_selector(host, "fd000000.usb")->kind, SelectorKind::kDeviceName);
  // Filters see PCI devices only.
  EXPECT_EQ(select_groups(host, {"*:*"}, {}, false)->group_ids(), Ids{11});
  EXPECT_EQ(select_groups(host, {}, {":"}, false)->group_ids(), Ids{11});
  // lspci's omitted domain is any domain.
  EXPECT_EQ(select_groups(host, {"00:00.0"}, {}, false)->group_ids(), Ids{11});
  Result<Selection> typo = select_groups(host, {"fd000000.usbb"}, {}, false);
  ASSERT_FALSE(typo);
  EXPECT_EQ(typo.error().message,
            "no device matches 'fd000000.usbb' in topology arm.toml (closest: fd000000.usb)");
  typo = select_groups(host, {"gpu"}, {}, false);
  ASSERT_FALSE(typo);
  EXPECT_EQ(typo.error().code, ENOENT);
  EXPECT_EQ(typo.error().message,
            "'gpu' is not a group number, nor a PCI address or device name in topology arm.toml");
  Host declared = host;
  ASSERT_TRUE(apply_dma_limits(&declared, {"fd000000.usb=32", "1d87:3566=48"}));
  EXPECT_EQ(declared.groups[0].devices[0].declared_dma_bits, 32u);
  EXPECT_EQ(declared.groups[0].devices[1].declared_dma_bits, std::nullopt);
  EXPECT_EQ(declared.groups[1].devices[0].declared_dma_bits, 48u);
}

TEST(DeviceSelectionPlatform, AHostWithoutGroups) {
  Host host;
  host.source = "live host";
  Result<Selection> s = select_groups(host, {"7"}, {}, false);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "no group 7 in live host (it has no IOMMU groups)");
  s = select_groups(host, {"01:00.0"}, {}, false);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "no device matches '01:00.0' in live host (it has no IOMMU groups)");
  EXPECT_TRUE(select_groups(host, {}, {}, true)->groups.empty());
}

}  // namespace
}  // namespace iovamap
