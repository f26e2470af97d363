// Private: the stops of a container (container.h's RangeStop) built from its models, shared by
// describe_container and the mapping checker.
#pragma once

#include <string>
#include <vector>

#include "iovamap/container.h"

namespace iovamap::detail {

// The parts of the space outside `aperture`, as kAperture stops of `group_id` (and `device`).
void add_aperture_stops(const Aperture& aperture, uint32_t group_id, const std::string& device,
                        std::vector<RangeStop>* out);
// Every region that bars IOVAs (all but direct-relaxable), as kRegion stops; with
// `aperture_known`, not those only the aperture explains (its own stops say the same).
void add_region_stops(const std::vector<ReservedRegion>& regions, uint32_t group_id,
                      const std::string& device, bool aperture_known, std::vector<RangeStop>* out);
// Every stop of a type1 container holding these modelled groups: apertures and regions.
std::vector<RangeStop> type1_stops(const std::vector<GroupModel>& groups);

}  // namespace iovamap::detail
