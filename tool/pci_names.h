// Interim: PCI names (replaced by the libpci-backed lookup).
#pragma once

#include <cstdint>
#include <string>

namespace iovamap::tool {

class PciNames {
 public:
  virtual ~PciNames() = default;
  // "Intel Corporation 82574L Gigabit Network Connection", or "" when unknown.
  virtual std::string device_name(uint16_t vendor, uint16_t device) const = 0;
};

}  // namespace iovamap::tool

#include <memory>

namespace iovamap::tool {
// The names from the system's PCI ID database, or nullptr when there is none.
std::unique_ptr<PciNames> open_pci_names();
}  // namespace iovamap::tool
