// Interim: no names.
#include "pci_names.h"

namespace iovamap::tool {
std::unique_ptr<PciNames> open_pci_names() {
  return nullptr;
}
}  // namespace iovamap::tool
