// PCI vendor, device and class names for the iovamap command's text output, as lspci prints
// them, from the PCI ID database (Debian's pci.ids, read with Debian's libpci).
//
// With it the command can show "0000:01:00.0 Ethernet controller: Intel Corporation 82574L
// Gigabit Network Connection" rather than "8086:10d3 020000"; `-n` keeps the numbers ("0200:
// 8086:10d3", lspci -n) and both are available ("Ethernet controller [0200]: Intel Corporation
// 82574L Gigabit Network Connection [8086:10d3]", lspci -nn). Names come from the database
// only, never from a device: nothing here reads PCI configuration space or chooses a libpci
// access method, so a snapshot or a topology file of another machine is named as well as the
// live host.
//
// Example:
//   std::unique_ptr<PciNames> names = PciNames::open();  // /usr/share/misc/pci.ids
//   names->vendor_name(0x8086);                   // "Intel Corporation"
//   names->device_name(0x8086, 0x10d3);           // "82574L Gigabit Network Connection"
//   names->class_text(0x020000, PciNameStyle::kNames);   // "Ethernet controller"
//   names->device_text(0x8086, 0x10d3, 0x020000, PciNameStyle::kNames);
//       // "Ethernet controller: Intel Corporation 82574L Gigabit Network Connection"
//
// Sharp edges:
//   - Without a database (pci.ids missing, unreadable or malformed) or without libpci (a build
//     without it, such as the static one: Debian ships no libpci.a), every name is nullopt and
//     the *_text functions give what lspci gives then: "Class 0200", "Device 8086:10d3". Nothing
//     is printed and nothing exits; `problem()` says why there are no names.
//   - Names come from pci.ids alone. lspci also asks udev's hwdb and, if told to, DNS for ids
//     that pci.ids lacks; this does not (the answer must not depend on the machine's udev).
//   - The *_text functions cut a text of 128 bytes or more to 124 bytes and "...", as lspci's
//     128-byte buffers do (a few Mellanox names); the cut may split a UTF-8 character, as
//     lspci's does. The *_name functions return names whole.
//   - Class codes are 24 bits as in Device::class_code (0x020000); the prog-if byte is not
//     named (lspci names it only with -v).
//   - Thread safety and lifetime: all methods are const and may be called from any threads at
//     once (a mutex serialises libpci). `open()` reads the whole database (a few tens of
//     milliseconds); keep the object for the command's lifetime rather than reopening it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace iovamap {

// How ids are shown: lspci's default, lspci -n, lspci -nn.
enum class PciNameStyle : uint8_t { kNames, kNumeric, kBoth };

class PciNames {
 public:
  // Opens the PCI ID database at `ids_file` ("" for libpci's default, /usr/share/misc/pci.ids
  // on Debian; a ".gz" file is read compressed). Never fails: without a usable database the
  // object has no names (see problem()). Never touches PCI devices, udev or the network.
  static std::unique_ptr<PciNames> open(const std::string& ids_file = "");

  ~PciNames();
  PciNames(const PciNames&) = delete;
  PciNames& operator=(const PciNames&) = delete;

  // Whether names are available (a database was read).
  bool has_names() const;
  // Why there are no names, "" when there are: "iovamap was built without libpci",
  // "cannot read /usr/share/misc/pci.ids: No such file or directory", "Parse error at
  // /x/pci.ids, line 3" (libpci's words).
  const std::string& problem() const;

  // The names as pci.ids gives them, nullopt when it has none: vendor 8086 is "Intel
  // Corporation"; device 8086:10d3 is "82574L Gigabit Network Connection".
  std::optional<std::string> vendor_name(uint16_t vendor) const;
  std::optional<std::string> device_name(uint16_t vendor, uint16_t device) const;
  // The subclass's name ("Ethernet controller" for 0x0200xx), else the base class's ("Network
  // controller" for 0x02ffxx, where pci.ids names no subclass ff), else nullopt.
  std::optional<std::string> class_name(uint32_t class_code) const;

  // The class as lspci shows it (libpci's PCI_LOOKUP_CLASS): "Ethernet controller"; a base
  // class alone with its number, "Network controller [02ff]"; unknown, "Class 1400". kNumeric:
  // "0200". kBoth: "Ethernet controller [0200]", "Class [1400]".
  std::string class_text(uint32_t class_code, PciNameStyle style) const;
  // Vendor and device as lspci shows them (PCI_LOOKUP_VENDOR | PCI_LOOKUP_DEVICE): "Intel
  // Corporation 82574L Gigabit Network Connection"; device unknown, "Intel Corporation Device
  // 10d3"; vendor unknown, "Device 8086:10d3". kNumeric: "8086:10d3". kBoth: the name then
  // "[8086:10d3]" ("Device [8086:10d3]" when the vendor is unknown).
  std::string vendor_device_text(uint16_t vendor, uint16_t device, PciNameStyle style) const;
  // lspci's line after the address: class_text + ": " + vendor_device_text.
  std::string device_text(uint16_t vendor, uint16_t device, uint32_t class_code,
                          PciNameStyle style) const;

 private:
  struct Impl;  // libpci's handle and its lock, or only `problem` (a build without libpci)
  explicit PciNames(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace iovamap
