// A broken axis over the 64-bit address space: a scale a person can read, for drawing IOVA
// ranges, reserved regions and VM mappings side by side.
//
// A linear axis over 2^64 addresses shows nothing: a 1 MiB MSI window is 10^-13 of it. Here the
// space is cut at every boundary of the "interesting" intervals. Each piece an interval covers
// becomes a segment at least `min_width` wide (bigger pieces wider by the fifth root of their
// size, so that bigger still looks bigger); each piece no interval covers (a gap) becomes a
// fixed-width break, whose size a picture labels instead of drawing. Within a segment the scale is
// linear.
//
// Example:
//   BrokenAxis axis = BrokenAxis::make({{0, 0xfedfffff}, {0xfee00000, 0xfeefffff},
//                                       {0x380000000000, 0x380001ffffff}},
//                                      {.width = 1000, .min_width = 24, .break_width = 30})
//                         .value();
//   axis.x(0xfee00000);      // left edge of the MSI window
//   axis.x_end(0xfeefffff);  // its right edge: at least 24 to the right of x(0xfee00000)
//   axis.segments();         // [0,0xfeefffff] split in two, a break, the BAR, a break to 2^64
//
// Sharp edges:
//   - x() of an address inside a break is the break's left edge: gaps have no inner scale.
//   - Positions are doubles: distinct addresses in one wide segment may share a position.
//   - `make` refuses (EINVAL) no intervals, a width that cannot hold every segment at
//     `min_width` and every break, and non-positive or non-finite widths.
#pragma once

#include <cstdint>
#include <vector>

#include "iovamap/range.h"
#include "iovamap/result.h"

namespace iovamap {

struct BrokenAxisOptions {
  double width = 1000;      // the whole axis, 0 to 2^64
  double min_width = 20;    // the least width of a covered segment
  double break_width = 24;  // the width of each gap
};

struct AxisSegment {
  Range range;       // the addresses it shows
  double left = 0;   // x of range.first's left edge
  double right = 0;  // x of range.last's right edge
  bool gap = false;  // a break: no interesting interval covers any of it
};

class BrokenAxis {
 public:
  static Result<BrokenAxis> make(const std::vector<Range>& intervals,
                                 const BrokenAxisOptions& options);

  // The left edge of `address`: non-decreasing in the address, 0 at 0.
  double x(uint64_t address) const { return at(address); }
  // The right edge of `address` (the left edge of address + 1): width at 2^64-1.
  double x_end(uint64_t address) const { return at(u128{address} + 1); }
  // The segments and breaks, in address order, covering [0, 2^64-1] without overlap.
  const std::vector<AxisSegment>& segments() const { return segments_; }
  double width() const { return width_; }

 private:
  double at(u128 address) const;

  std::vector<AxisSegment> segments_;
  double width_ = 0;
};

}  // namespace iovamap
