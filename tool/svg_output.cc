// The SVG back-end (output.h): `regions`, `ranges` and `vm-check` as a picture of the 64-bit
// address space on a broken axis (broken_axis.h). Each command fills lanes of coloured bars
// (usable ranges, reserved regions by type, the aperture, each device's DMA limit, the VM's
// mappings: red where refused); one renderer draws them, the breaks with their sizes, hex
// address labels, a legend and the verdict.
//
// The SVG is self-contained (no script, no external font or image), its bytes depend only on
// the answer (coordinates printed with one decimal by std::to_chars), and strings from the host
// or the VM file are XML-escaped, with bytes that are not UTF-8 or not allowed in XML replaced.
#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "iovamap/broken_axis.h"
#include "output.h"

namespace iovamap::tool {
namespace {

// ---- colours and what they mean (the legend's rows, in this order) -----------------------------

struct Paint {
  std::string_view fill;
  std::string_view meaning;
};

constexpr Paint kUsable{"#43a047", "usable IOVA"};
constexpr Paint kAperture{"#a5d6a7", "IOMMU aperture (translatable)"};
constexpr Paint kOutside{"#9e9e9e", "outside the aperture"};
constexpr Paint kDirect{"#8e24aa", "direct (1:1) region"};
constexpr Paint kDirectRelaxable{"#ce93d8", "direct-relaxable region"};
constexpr Paint kReserved{"#6d4c41", "reserved region"};
constexpr Paint kMsi{"#1e88e5", "MSI window"};
constexpr Paint kSwMsi{"#64b5f6", "software MSI window"};
constexpr Paint kReachable{"#80cbc4", "what the device can address"};
constexpr Paint kBeyondLimit{"#ffcc80", "beyond the device's DMA limit"};
constexpr Paint kVmOk{"#3949ab", "VM mapping: accepted"};
constexpr Paint kVmFatal{"#d32f2f", "VM mapping: refused, the VM stops"};
constexpr Paint kVmWarning{"#ff7043", "VM mapping: refused, QEMU warns"};
constexpr Paint kVmWindow{"#cfd8dc", "VM address window (not mapped itself)"};

const Paint* const kLegendOrder[] = {
    &kUsable, &kAperture,  &kOutside,     &kDirect, &kDirectRelaxable, &kReserved,  &kMsi,
    &kSwMsi,  &kReachable, &kBeyondLimit, &kVmOk,   &kVmFatal,         &kVmWarning, &kVmWindow};

const Paint& region_paint(const ReservedRegion& r) {
  bool dma_limit = !r.provenance.empty() &&
                   std::all_of(r.provenance.begin(), r.provenance.end(),
                               [](const Provenance& p) { return p.origin == Origin::kDmaLimit; });
  if (dma_limit) return kBeyondLimit;
  switch (r.type) {
    case RegionType::kDirect:
      return kDirect;
    case RegionType::kDirectRelaxable:
      return kDirectRelaxable;
    case RegionType::kReserved:
      return kReserved;
    case RegionType::kMsi:
      return kMsi;
    case RegionType::kSwMsi:
      return kSwMsi;
  }
  return kReserved;
}

// ---- what a command draws -----------------------------------------------------------------------

struct Bar {
  Range range;
  const Paint* paint = nullptr;
  std::string label;    // inside the bar when it fits
  std::string tooltip;  // <title>: shown on hover
  // Only its first address shapes the axis (a segment of min_width): a bar up to 2^64-1
  // (outside the aperture, beyond a DMA limit) would otherwise keep the space it spans from
  // becoming a break.
  bool edges_only = false;
};

struct Lane {
  std::string label;
  std::vector<Bar> bars;
};

struct Chart {
  std::string title;
  std::vector<std::string> subtitle;
  std::vector<Lane> lanes;
  std::vector<std::pair<std::string, bool>> footer;  // a line, and whether it is bad news
};

// ---- text ---------------------------------------------------------------------------------------

// `text` as XML character data or an attribute value: markup characters escaped, control
// characters (XML 1.0 has no place for them) and bytes that are not UTF-8 replaced by U+FFFD.
std::string xml(std::string_view text) {
  static constexpr std::string_view kReplacement = "\xef\xbf\xbd";
  std::string out;
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&apos;";
          break;
        default:
          if (c < 0x20 || c == 0x7f)
            out += kReplacement;
          else
            out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: its length from the lead byte, then continuation bytes, no overlong
    // form, no surrogate, nothing past U+10FFFF.
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    bool ok = n != 0 && c <= 0xf4 && i + n <= text.size();
    uint32_t cp = ok ? c & (0x7f >> n) : 0;
    for (size_t k = 1; ok && k < n; ++k) {
      unsigned char cc = static_cast<unsigned char>(text[i + k]);
      ok = (cc & 0xc0) == 0x80;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (ok)
      ok = (n == 2 ||
            (n == 3 && cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff) && cp != 0xfffe &&
             cp != 0xffff) ||
            (n == 4 && cp >= 0x10000 && cp <= 0x10ffff));
    if (ok) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

// A coordinate with one decimal, the same bytes whatever the locale.
std::string num(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 1);
  std::string s(buf, ec == std::errc() ? end : buf);
  if (s == "-0.0") s = "0.0";
  return s;
}

// The width of `text` at `font_size` in a sans-serif font, roughly (for fitting labels).
double text_width(std::string_view text, double font_size) {
  size_t chars = 0;
  for (char c : text)
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++chars;
  return static_cast<double>(chars) * font_size * 0.6;
}

// `line` cut at blanks into lines no wider than `width` (a word longer than that alone);
// continuation lines indented.
std::vector<std::string> wrap(const std::string& line, double width, double font_size) {
  std::vector<std::string> out;
  std::string current;
  size_t at = 0;
  while (at < line.size()) {
    size_t blank = line.find(' ', at + 1);
    std::string word = line.substr(at, blank == std::string::npos ? std::string::npos : blank - at);
    at = blank == std::string::npos ? line.size() : blank;
    if (!current.empty() && text_width(current + word, font_size) > width) {
      out.push_back(current);
      current = "    " + word.substr(word.find_first_not_of(' ') == std::string::npos
                                         ? word.size()
                                         : word.find_first_not_of(' '));
    } else {
      current += word;
    }
  }
  if (!current.empty() || out.empty()) out.push_back(current);
  return out;
}

std::string size_text(const Range& r) {
  return human_size(r.size());
}

std::string range_text(const Range& r) {
  return hex(r.first) + "-" + hex(r.last) + " (" + size_text(r) + ")";
}

// ---- the renderer -------------------------------------------------------------------------------

constexpr double kLabelWidth = 250;  // the lanes' names, left of the axis
constexpr double kMargin = 16;
constexpr double kLaneHeight = 24;
constexpr double kLaneGap = 8;
constexpr double kFont = 12;
constexpr double kSmallFont = 10.5;
constexpr BrokenAxisOptions kAxis{.width = 1000, .min_width = 56, .break_width = 44};

Result<BrokenAxis> make_axis(const Chart& chart) {
  std::vector<Range> intervals;
  for (const Lane& lane : chart.lanes)
    for (const Bar& b : lane.bars)
      intervals.push_back(b.edges_only ? Range{b.range.first, b.range.first} : b.range);
  if (intervals.empty()) intervals.push_back(Range::all());
  // Wider than the default only when there are too many pieces for it.
  BrokenAxisOptions o = kAxis;
  o.width = std::max(o.width, static_cast<double>(2 * intervals.size() + 1) *
                                  std::max(o.min_width, o.break_width));
  Result<BrokenAxis> axis = BrokenAxis::make(intervals, kAxis);
  if (axis) return axis;
  return BrokenAxis::make(intervals, o);
}

class Canvas {
 public:
  void rect(double x, double y, double w, double h, std::string_view fill,
            std::string_view extra = "") {
    body_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" +
             num(h) + "\" fill=\"" + std::string(fill) + "\"" + std::string(extra) + "/>\n";
  }
  void text(double x, double y, std::string_view s, std::string_view attrs) {
    body_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\"" + std::string(attrs) + ">" + xml(s) +
             "</text>\n";
  }
  void line(double x1, double y1, double x2, double y2, std::string_view attrs) {
    body_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" +
             num(y2) + "\"" + std::string(attrs) + "/>\n";
  }
  void raw(std::string_view s) { body_ += s; }
  const std::string& body() const { return body_; }

 private:
  std::string body_;
};

// How much of a break's width its white cut takes at each side.
constexpr double kBreakInset = 8;

// The widest part of [left, right] that no break's cut covers.
std::pair<double, double> widest_visible(const BrokenAxis& axis, double x0, double left,
                                         double right) {
  std::pair<double, double> best{left, left};
  double from = left;
  auto consider = [&](double to) {
    if (to - from > best.second - best.first) best = {from, to};
  };
  for (const AxisSegment& s : axis.segments()) {
    if (!s.gap) continue;
    double cut_l = x0 + s.left + kBreakInset, cut_r = x0 + s.right - kBreakInset;
    if (cut_r <= from || cut_l >= right) continue;
    consider(std::max(from, std::min(cut_l, right)));
    from = std::min(right, cut_r);
  }
  consider(right);
  return best;
}

Status render(const Chart& chart, std::ostream& out) {
  IOVAMAP_ASSIGN_OR_RETURN(BrokenAxis axis, make_axis(chart));
  const double x0 = kMargin + kLabelWidth;
  const double width = x0 + axis.width() + kMargin + 110;  // the last label leans right
  Canvas c;
  double y = kMargin + 16;
  c.text(kMargin, y, chart.title, " font-size=\"16\" font-weight=\"bold\"");
  for (const std::string& s : chart.subtitle) {
    y += 17;
    c.text(kMargin, y, s, " font-size=\"12\" fill=\"#333\"");
  }
  y += 30;

  // The breaks' sizes above the lanes.
  const double lanes_top = y;
  const double lanes_bottom =
      lanes_top + static_cast<double>(chart.lanes.size()) * (kLaneHeight + kLaneGap);
  for (const AxisSegment& s : axis.segments()) {
    if (!s.gap) continue;
    double mid = x0 + (s.left + s.right) / 2;
    c.text(mid, lanes_top - 6, human_size(s.range.size()),
           " font-size=\"" + num(kSmallFont - 1) + "\" text-anchor=\"middle\" fill=\"#555\"");
  }

  std::set<const Paint*> used;
  for (const Lane& lane : chart.lanes) {
    c.text(x0 - 8, y + kLaneHeight / 2 + 4, lane.label,
           " font-size=\"" + num(kFont) + "\" text-anchor=\"end\"");
    c.rect(x0, y, axis.width(), kLaneHeight, "#f5f5f5");
    // Where each bar ends, for a label that does not fit inside and goes right of its bar.
    std::vector<std::pair<double, double>> spans;
    for (const Bar& b : lane.bars)
      spans.push_back({x0 + axis.x(b.range.first), x0 + axis.x_end(b.range.last)});
    for (const Bar& b : lane.bars) {
      used.insert(b.paint);
      double left = x0 + axis.x(b.range.first);
      double w = x0 + axis.x_end(b.range.last) - left;
      c.raw("<g>");
      c.raw("<title>" + xml(b.tooltip.empty() ? b.label : b.tooltip) + "</title>");
      c.rect(left, y, w, kLaneHeight, b.paint->fill, " stroke=\"#fff\" stroke-width=\"1\"");
      // The label inside, in the widest part no break cuts, when it fits there; dark text on
      // light fills, white on dark ones.
      auto [from, to] = widest_visible(axis, x0, left, left + w);
      if (!b.label.empty() && text_width(b.label, kSmallFont) + 6 <= to - from) {
        bool dark = b.paint == &kUsable || b.paint == &kDirect || b.paint == &kReserved ||
                    b.paint == &kMsi || b.paint == &kVmOk || b.paint == &kVmFatal;
        c.text((from + to) / 2, y + kLaneHeight / 2 + 4, b.label,
               std::string(" font-size=\"") + num(kSmallFont) +
                   "\" text-anchor=\"middle\" fill=\"" + (dark ? "#fff" : "#111") + "\"");
      } else if (!b.label.empty()) {
        // Right of the bar, up to the next bar or break in the lane, when it fits there.
        double free_to = x0 + axis.width();
        for (const auto& [l, r] : spans)
          if (l >= left + w) free_to = std::min(free_to, l);
        for (const AxisSegment& sg : axis.segments())
          if (sg.gap && x0 + sg.left + kBreakInset >= left + w)
            free_to = std::min(free_to, x0 + sg.left + kBreakInset);
        if (text_width(b.label, kSmallFont) + 8 <= free_to - (left + w))
          c.text(left + w + 4, y + kLaneHeight / 2 + 4, b.label,
                 " font-size=\"" + num(kSmallFont) + "\" fill=\"#111\"");
      }
      c.raw("</g>\n");
    }
    y += kLaneHeight + kLaneGap;
  }

  // The breaks: a white cut across every lane with a zigzag at each side.
  for (const AxisSegment& s : axis.segments()) {
    if (!s.gap) continue;
    double l = x0 + s.left + kBreakInset;
    double r = x0 + s.right - kBreakInset;
    c.rect(l, lanes_top - 2, r - l, lanes_bottom - lanes_top - kLaneGap + 4, "#fff");
    for (double x : {l, r}) {
      std::string zig = "<polyline fill=\"none\" stroke=\"#777\" stroke-width=\"1.2\" points=\"";
      bool right = false;
      for (double yy = lanes_top - 2; yy <= lanes_bottom - kLaneGap + 2; yy += 6) {
        zig += num(x + (right ? 3 : -3)) + "," + num(yy) + " ";
        right = !right;
      }
      zig.pop_back();
      c.raw(zig + "\"/>\n");
    }
  }

  // The axis and its address labels: each segment's and break's first address (and 2^64 at
  // the end), skipping one that would overlap the previous label or follows a one-address
  // segment.
  double axis_y = lanes_bottom - kLaneGap + 6;
  c.line(x0, axis_y, x0 + axis.width(), axis_y, " stroke=\"#333\" stroke-width=\"1\"");
  double last_label = -1e9;
  auto tick = [&](double x, const std::string& label) {
    c.line(x, axis_y, x, axis_y + 5, " stroke=\"#333\" stroke-width=\"1\"");
    if (x - last_label < 13) return;
    last_label = x;
    c.text(x + 3, axis_y + 12, label,
           " font-size=\"" + num(kSmallFont) + "\" font-family=\"DejaVu Sans Mono, monospace\"" +
               " transform=\"rotate(40 " + num(x + 3) + " " + num(axis_y + 12) + ")\"");
  };
  double longest = 0;
  for (size_t i = 0; i < axis.segments().size(); ++i) {
    const AxisSegment& s = axis.segments()[i];
    // After a segment of one address (a bar's start), the next address goes without saying.
    if (i > 0 && axis.segments()[i - 1].range.size() == 1) continue;
    tick(x0 + s.left, hex(s.range.first));
    longest = std::max(longest, text_width(hex(s.range.first), kSmallFont));
  }
  tick(x0 + axis.width(), "2^64");
  y = axis_y + 12 + longest * 0.65 + 30;  // sin 40 degrees of the longest label, and a gap

  // The legend: the colours this picture uses, in a fixed order.
  double lx = kMargin;
  for (const Paint* p : kLegendOrder) {
    if (!used.count(p)) continue;
    double w = 18 + text_width(p->meaning, kFont) + 18;
    if (lx + w > width - kMargin) {
      lx = kMargin;
      y += 20;
    }
    c.rect(lx, y - 11, 13, 13, p->fill, " stroke=\"#555\" stroke-width=\"0.5\"");
    c.text(lx + 18, y, p->meaning, " font-size=\"" + num(kFont) + "\"");
    lx += w;
  }
  y += 12;
  for (const auto& [line, bad] : chart.footer)
    for (const std::string& part : wrap(line, width - 2 * kMargin, kFont)) {
      y += 17;
      // SVG collapses blanks: an indent is an offset.
      size_t indent = std::min(part.find_first_not_of(' '), part.size());
      c.text(kMargin + 4 * static_cast<double>(indent), y, part.substr(indent),
             std::string(" font-size=\"") + num(kFont) + "\"" + (bad ? " fill=\"#b71c1c\"" : ""));
    }
  double height = y + kMargin;

  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << num(width)
      << "\" height=\"" << num(height) << "\" viewBox=\"0 0 " << num(width) << " " << num(height)
      << "\" font-family=\"DejaVu Sans, Arial, sans-serif\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
      << c.body() << "</svg>\n";
  return {};
}

// ---- the commands' lanes ------------------------------------------------------------------------

// One lane per device of the groups whose DMA limit is below 64 bits: what it reaches, and
// beyond.
void dma_limit_lanes(const Host& host, const std::vector<uint32_t>& group_ids, Chart* chart) {
  for (uint32_t id : group_ids) {
    const Group* g = host.find_group(id);
    if (!g) continue;
    for (const Device& d : g->devices) {
      DmaLimit limit = dma_limit(d);
      if (!limit.bits || *limit.bits >= 64) continue;
      uint64_t top = limit.limit_address();
      std::string bits = std::to_string(*limit.bits) + "-bit";
      Lane lane{d.name + " DMA limit", {}};
      std::string why = bits + " DMA limit of " + d.name + ": " + limit.detail;
      lane.bars.push_back(
          {{0, top}, &kReachable, bits + " (" + human_size(u128{top} + 1) + ")", why});
      lane.bars.push_back({{top + 1, kMaxAddress}, &kBeyondLimit, "beyond " + bits, why, true});
      chart->lanes.push_back(std::move(lane));
    }
  }
}

// The container's lanes: its usable ranges, and what ends them.
void container_lanes(const ContainerReport& r, Chart* chart) {
  std::string rules = r.rules == ContainerRules::kIommufd ? "iommufd" : "VFIO type1";
  Lane usable{"usable (" + rules + ")", {}};
  for (const UsableRange& u : r.usable)
    usable.bars.push_back({u.range, &kUsable, size_text(u.range), "usable " + range_text(u.range)});
  chart->lanes.push_back(std::move(usable));

  Lane stops{"what ends them", {}};
  std::set<std::pair<Range, std::string>> seen;
  for (const UsableRange& u : r.usable)
    for (const auto* side : {&u.below, &u.above})
      for (const RangeStop& s : *side) {
        const Paint* paint = &kOutside;
        std::string name = "outside aperture";
        if (s.kind == RangeStop::Kind::kRegion && s.type) {
          paint = &region_paint(ReservedRegion{s.range.first, 0, *s.type, s.provenance});
          name = paint == &kBeyondLimit ? "DMA limit" : std::string(type_name(*s.type));
        } else if (s.kind == RangeStop::Kind::kListQuirk) {
          paint = &kReserved;
          name = "type1 list quirk";
        }
        if (!seen.insert({s.range, name}).second) continue;
        std::string tip = name + " " + range_text(s.range);
        if (!s.provenance.empty()) tip += ": " + provenance_text(s.provenance);
        bool to_top = s.range.last == kMaxAddress && s.range.size() > (u128{1} << 40);
        stops.bars.push_back({s.range, paint, name, tip, to_top});
      }
  chart->lanes.push_back(std::move(stops));
}

// "group 7", "groups 7, 12".
std::string group_list(const std::vector<uint32_t>& ids) {
  std::string s = ids.size() == 1 ? "group " : "groups ";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s;
}

class SvgOutput : public Output {
 public:
  explicit SvgOutput(std::ostream& out) : out_(out) {}

  Status regions(const LoadedHost& loaded, const std::vector<GroupModel>& models,
                 const std::vector<std::string>&) override {
    Chart chart;
    chart.title = "iovamap regions: reserved regions per IOMMU group";
    chart.subtitle.push_back(loaded.host.source + ", kernel " + loaded.host.kernel.to_string() +
                             ", policy " + std::string(policy_name(loaded.policy)));
    for (const GroupModel& m : models) {
      std::string g = "group " + std::to_string(m.group_id);
      if (m.aperture) {
        Lane ap{g + " aperture", {}};
        const Range& a = m.aperture->range;
        std::string tip = "aperture " + range_text(a) + ": " + m.aperture->provenance.detail;
        ap.bars.push_back({a, &kAperture, "aperture " + size_text(a), tip});
        if (a.first > 0)
          ap.bars.push_back({{0, a.first - 1}, &kOutside, "outside", "outside the aperture"});
        if (a.last < kMaxAddress)
          ap.bars.push_back({{a.last + 1, kMaxAddress},
                             &kOutside,
                             "outside aperture",
                             "outside the aperture",
                             true});
        chart.lanes.push_back(std::move(ap));
      }
      Lane lane{g + " reserved", {}};
      for (const ReservedRegion& r : m.regions.regions()) {
        const Paint& p = region_paint(r);
        std::string name = &p == &kBeyondLimit ? "DMA limit" : std::string(type_name(r.type));
        bool to_top = r.last() == kMaxAddress && r.range().size() > (u128{1} << 40);
        lane.bars.push_back(
            {r.range(), &p, name + " " + size_text(r.range()),
             name + " " + range_text(r.range()) + ": " + provenance_text(r.provenance), to_top});
      }
      chart.lanes.push_back(std::move(lane));
      dma_limit_lanes(loaded.host, {m.group_id}, &chart);
      for (const std::string& w : m.warnings) chart.footer.push_back({g + ": " + w, false});
    }
    return render(chart, out_);
  }

  Status ranges(const LoadedHost& loaded, const ContainerReport& r,
                const std::vector<std::string>&) override {
    // A picture has no place for "refused": the refusal goes to stderr (exit 1), as sysfs does.
    if (r.refusal) return *r.refusal;
    Chart chart;
    chart.title = "iovamap ranges: usable IOVA of one container (" + group_list(r.group_ids) + ")";
    u128 total = 0;
    for (const UsableRange& u : r.usable) total += u.range.size();
    chart.subtitle.push_back(
        loaded.host.source + ", kernel " + loaded.host.kernel.to_string() + ", " +
        (r.rules == ContainerRules::kIommufd ? "iommufd" : "VFIO type1") + " rules, policy " +
        std::string(policy_name(r.policy)) + ": " + human_size(total) + " usable in " +
        std::to_string(r.usable.size()) + " ranges, alignment " + human_size(r.alignment));
    container_lanes(r, &chart);
    dma_limit_lanes(loaded.host, r.group_ids, &chart);
    for (const std::string& w : r.warnings) chart.footer.push_back({"warning: " + w, false});
    return render(chart, out_);
  }

  Status vm_check(const LoadedHost& loaded, const VmCheckReport& r,
                  const std::vector<std::string>&) override {
    const VmLayout& l = r.layout;
    Chart chart;
    chart.title = "iovamap vm-check: " + r.vm.file + " (" +
                  std::string(vm_format_name(r.vm.format)) + ") against " +
                  group_list(r.container.group_ids);
    chart.subtitle.push_back(
        loaded.host.source + ", kernel " + loaded.host.kernel.to_string() + "; VM: machine " +
        r.vm.machine.name + ", " + human_size(r.vm.ram_size) + " RAM, vCPU physical address bits " +
        std::to_string(l.phys_bits) + ", " + std::string(firmware_name(r.vm.firmware)));
    container_lanes(r.container, &chart);
    dma_limit_lanes(loaded.host, r.container.group_ids, &chart);

    Lane memory{"VM memory (RAM, ROM, DIMMs)", {}};
    Lane bars{"VM BARs", {}};
    for (const VmMappingVerdict& v : r.verdicts) {
      const VmMapping& m = v.mapping;
      const Paint* p = v.verdict.ok() ? &kVmOk : m.fatal ? &kVmFatal : &kVmWarning;
      std::string tip = m.name + " " + range_text(m.range) + ": " +
                        (v.verdict.ok() ? std::string("accepted")
                                        : (m.fatal ? "FATAL: " : "warning: ") + v.qemu_message);
      bool is_bar = m.kind == VmMappingKind::kRamBar || m.kind == VmMappingKind::kAssignedBar;
      (is_bar ? bars : memory).bars.push_back({m.range, p, m.name, tip});
    }
    Lane windows{"VM windows", {}};
    if (l.device_memory)
      windows.bars.push_back({*l.device_memory, &kVmWindow, "hotplug region",
                              "memory hotplug region " + range_text(*l.device_memory)});
    if (l.pci64_window)
      windows.bars.push_back({*l.pci64_window, &kVmWindow, "64-bit PCI window",
                              "the firmware's 64-bit PCI window " + range_text(*l.pci64_window) +
                                  ": " + l.pci64_rule});
    chart.lanes.push_back(std::move(memory));
    chart.lanes.push_back(std::move(bars));
    if (!windows.bars.empty()) chart.lanes.push_back(std::move(windows));

    size_t fatal = 0, warnings = 0;
    for (const VmMappingVerdict& v : r.verdicts) {
      if (v.verdict.ok()) continue;
      (v.mapping.fatal ? fatal : warnings)++;
      chart.footer.push_back({std::string(v.mapping.fatal ? "FATAL: " : "warning: ") +
                                  v.mapping.name + " at " + range_text(v.mapping.range) +
                                  ": QEMU prints " + v.qemu_message,
                              true});
    }
    if (l.qemu_refusal) {
      ++fatal;
      chart.footer.push_back({"FATAL: QEMU refuses to start: " + *l.qemu_refusal, true});
    }
    if (r.viommu_problem) {
      (r.viommu_fatal ? fatal : warnings)++;
      chart.footer.push_back(
          {std::string(r.viommu_fatal ? "FATAL: " : "warning: ") + *r.viommu_problem, true});
    }
    std::string counts = " (" + std::to_string(fatal) + " fatal, " + std::to_string(warnings) +
                         " warning" + (warnings == 1 ? "" : "s") + ")";
    std::string verdict = r.clean()    ? "the VM starts; every mapping is accepted"
                          : r.starts() ? "the VM starts, with warnings" + counts
                                       : "the VM will NOT start" + counts;
    chart.subtitle.push_back("verdict: " + verdict);
    if (r.fix) {
      chart.footer.push_back({std::string("fix (") +
                                  (r.fix->verified ? "checked: the changed VM passes"
                                                   : "partial: the changed VM still fails") +
                                  "):",
                              false});
      for (const VmChange& ch : r.fix->changes) chart.footer.push_back({"  " + ch.text, false});
    }
    return render(chart, out_);
  }

 protected:
  Status unsupported(std::string_view command) const override {
    return make_error(
        EINVAL, "--format svg is for regions, ranges and vm-check, not " + std::string(command));
  }

 private:
  std::ostream& out_;
};

}  // namespace

std::unique_ptr<Output> make_svg_output(std::ostream& out, const OutputOptions&) {
  return std::make_unique<SvgOutput>(out);
}

}  // namespace iovamap::tool
