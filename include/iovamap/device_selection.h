// Selecting groups by group number (interim: replaced by the lspci-syntax selection).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "iovamap/host.h"
#include "iovamap/result.h"

namespace iovamap {

struct SelectedGroup {
  uint32_t id = 0;
  std::vector<std::string> selected_devices;  // the devices a selector named
  std::vector<std::string> other_devices;     // the rest of the group, which comes along
};

struct Selection {
  std::vector<SelectedGroup> groups;  // in the order first selected
  std::vector<uint32_t> ids() const;
};

Result<Selection> select_groups(const Host& host, const std::vector<std::string>& selectors,
                                const std::vector<std::string>& id_filters, bool all_if_empty);

Status apply_dma_limits(Host* host, const std::vector<std::string>& specs);

}  // namespace iovamap
