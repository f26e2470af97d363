// The C API (include/iovamap/iovamap.h): a thin layer over the C++ library. Each function
// checks its handle and arguments, calls the C++ function, and turns its Result into 0 or a
// negative errno with the message kept for iovamap_last_error(). No exception leaves a
// function: every body runs inside guarded(), which maps std::bad_alloc to -ENOMEM and
// anything else to -EIO.
//
// Handles are never pointers to our objects: a handle is a value, tag | generation | slot,
// naming a slot of a process-wide table. Looking one up reads the slot (two atomic loads, no
// lock) and compares the whole value, so NULL, a destroyed handle (its generation moved on), a
// handle of another type (the tag differs) or any other pointer is refused with -EBADF without
// ever being dereferenced. Slots live in chunks that are allocated once and never freed.
//
// The allocator's calls are the hot ones (bench/c_api_bench.cc measures them against C++).
// On their path: slots are found through constant-initialised globals (no function-local
// static guard, no call; the first 1024 without loading a chunk pointer), an allocator
// handle's slot points at the IovaAllocator itself (no wrapper object to load first), the
// exception guard is inlined and every message is built out of line. iovamap_allocator_alloc
// and iovamap_allocator_free themselves live in src/iova_allocator.cc, so that the allocator's
// cached path is inlined into them; the handle table they share is src/c_api_handles.h.
#include "iovamap/iovamap.h"

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "c_api_handles.h"
#include "iovamap/container.h"
#include "iovamap/device_selection.h"
#include "iovamap/host_loader.h"
#include "iovamap/iova_allocator.h"
#include "iovamap/mapping_check.h"
#include "iovamap/version.h"

// The opaque types are never defined: handles are values (see the file comment).

namespace iovamap {
namespace c_api {

namespace {
thread_local std::string t_last_error;
}  // namespace

int fail(int code, std::string message) {
  t_last_error = std::move(message);
  return -(code > 0 ? code : EINVAL);
}
int fail(const Error& e) {
  return fail(e.code, e.message);
}
int fail_cold(int code, const char* message) {
  return fail(code, message);
}
void keep_error(const Error& e) {
  fail(e);
}

int exception_to_errno(const char* what) noexcept {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return fail(ENOMEM, std::string(what) + ": out of memory");
  } catch (const std::exception& e) {
    return fail(EIO, std::string(what) + ": internal error: " + e.what());
  } catch (...) {
    return fail(EIO, std::string(what) + ": internal error");
  }
}

// ---- the handle table ----------------------------------------------------------------------

constinit Slot g_first_chunk[kChunkSize];
constinit std::array<std::atomic<Slot*>, kChunks> g_chunks{g_first_chunk};

namespace {

class HandleTable {
 public:
  // A new handle for `object`, or 0 when every slot is taken.
  uintptr_t add(Tag tag, void* object) {
    std::lock_guard<std::mutex> lock(mu_);
    uint32_t index;
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else if (next_ < (size_t{1} << kSlotBits)) {
      index = static_cast<uint32_t>(next_++);
      size_t c = index >> kChunkBits;
      if (!g_chunks[c].load(std::memory_order_relaxed))
        g_chunks[c].store(new Slot[kChunkSize], std::memory_order_release);
    } else {
      return 0;
    }
    uintptr_t generation = ++generation_;
    uintptr_t h =
        (generation << (kSlotBits + kTagBits)) | (static_cast<uintptr_t>(tag) << kSlotBits) | index;
    Slot& s = slot(index);
    s.object.store(object, std::memory_order_relaxed);
    s.handle.store(h, std::memory_order_release);
    return h;
  }

  // Frees the slot of a live handle of type `tag` and returns its object, or nullptr.
  void* remove(Tag tag, uintptr_t h) {
    std::lock_guard<std::mutex> lock(mu_);
    void* object = find_object(tag, h);
    if (!object) return nullptr;
    uint32_t index = static_cast<uint32_t>(h & kSlotMask);
    Slot& s = slot(index);
    s.handle.store(0, std::memory_order_release);
    s.object.store(nullptr, std::memory_order_relaxed);
    free_.push_back(index);
    return object;
  }

 private:
  Slot& slot(uint32_t index) {
    return g_chunks[index >> kChunkBits].load(std::memory_order_relaxed)[index & (kChunkSize - 1)];
  }

  std::mutex mu_;
  std::vector<uint32_t> free_;
  size_t next_ = 0;
  // Starts at 1 so that no handle is 0 (NULL); 64-bit handles keep 40 bits of it.
  uintptr_t generation_ = 0;
};

// The table's bookkeeping, for creating and destroying handles (looking one up needs only
// g_chunks). Never destroyed: handles may be destroyed until the very end of the process.
HandleTable& table() {
  static HandleTable* t = new HandleTable;
  return *t;
}

// What each handle type holds.
struct HostObject {
  static constexpr Tag kTag = Tag::kHost;
  LoadedHost loaded;
};
struct ReportObject {
  static constexpr Tag kTag = Tag::kReport;
  ContainerReport report;
  std::string refusal_message;
};
struct CheckerObject {
  static constexpr Tag kTag = Tag::kChecker;
  explicit CheckerObject(MappingChecker c) : checker(std::move(c)) {}
  MappingChecker checker;
  std::string reason;  // the last verdict's
};

constexpr const char* kind_name(Tag tag) {
  switch (tag) {
    case Tag::kHost:
      return "host";
    case Tag::kReport:
      return "report";
    case Tag::kChecker:
      return "checker";
    case Tag::kAllocator:
      return "allocator";
  }
  return "handle";
}

}  // namespace

int bad_handle(Tag tag) {
  return fail(EBADF, std::string("not a live iovamap ") + kind_name(tag) +
                         " handle (NULL, destroyed, or of another type)");
}

// Registers `object` and stores its handle in `*out`.
template <class H, class T>
int publish(std::unique_ptr<T> object, H** out) {
  uintptr_t h = table().add(kTagOf<T>, object.get());
  if (h == 0) return fail(EMFILE, "too many live iovamap handles (2^20)");
  object.release();
  *out = reinterpret_cast<H*>(h);
  return 0;
}

template <class T, class H>
int destroy(H* handle) {
  return guarded("destroy", [&] {
    void* object = table().remove(kTagOf<T>, reinterpret_cast<uintptr_t>(handle));
    if (!object) return bad_handle(kTagOf<T>);
    delete static_cast<T*>(object);
    return 0;
  });
}

// ---- conversions ---------------------------------------------------------------------------

int null_argument(const char* function, const char* name) {
  return fail(EINVAL, std::string(function) + ": " + name + " is NULL");
}

namespace {

// Reads `count` C strings; EINVAL when the array or one string is NULL.
Result<std::vector<std::string>> strings(const char* const* list, size_t count, const char* what) {
  std::vector<std::string> out;
  if (count == 0) return out;
  if (!list)
    return make_error(EINVAL,
                      std::string(what) + " is NULL with a count of " + std::to_string(count));
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    if (!list[i])
      return make_error(EINVAL, std::string(what) + "[" + std::to_string(i) + "] is NULL");
    out.emplace_back(list[i]);
  }
  return out;
}

// Writes up to `cap` of `items` to `out` through `convert`, and the total to `*count`.
template <class Out, class Items, class F>
int fill(const char* function, Out* out, size_t cap, size_t* count, const Items& items,
         F&& convert) {
  if (!count) return null_argument(function, "count");
  if (cap > 0 && !out) return null_argument(function, "out (with a cap above 0)");
  size_t i = 0;
  for (const auto& item : items) {
    if (i >= cap) break;
    out[i++] = convert(item);
  }
  *count = items.size();
  return 0;
}

iovamap_device to_c(const Device& d, uint32_t group_id) {
  iovamap_device out{};
  out.name = d.name.c_str();
  out.driver = d.driver.c_str();
  out.group_id = group_id;
  out.is_pci = d.is_pci ? 1 : 0;
  out.vendor = d.vendor;
  out.device_id = d.device_id;
  out.class_code = d.class_code;
  out.dma_mask_bits = d.dma_mask_bits.value_or(0);
  out.declared_dma_bits = d.declared_dma_bits.value_or(0);
  return out;
}

bool valid_policy(int p) {
  return p >= IOVAMAP_POLICY_KERNEL && p <= IOVAMAP_POLICY_EFFECTIVE;
}
bool valid_rules(int r) {
  return r == IOVAMAP_RULES_TYPE1 || r == IOVAMAP_RULES_IOMMUFD;
}

// The selected groups' ids, or the error.
Result<std::vector<uint32_t>> selected(const Host& host, const char* const* selectors,
                                       size_t selector_count, const char* const* id_filters,
                                       size_t id_filter_count) {
  IOVAMAP_ASSIGN_OR_RETURN(std::vector<std::string> sel,
                           strings(selectors, selector_count, "selectors"));
  IOVAMAP_ASSIGN_OR_RETURN(std::vector<std::string> ids,
                           strings(id_filters, id_filter_count, "id_filters"));
  IOVAMAP_ASSIGN_OR_RETURN(Selection s, select_groups(host, sel, ids, false));
  return s.group_ids();
}

}  // namespace
}  // namespace c_api
}  // namespace iovamap

using namespace iovamap;         // NOLINT: the C functions below are outside the namespace
using namespace iovamap::c_api;  // NOLINT: the C functions below are outside the namespace

// The library is compiled with hidden visibility; the C API is what libiovamap.so exports
// (with src/libiovamap.map naming it).
#pragma GCC visibility push(default)
extern "C" {

const char* iovamap_last_error(void) {
  return t_last_error.c_str();
}

const char* iovamap_version(void) {
  static const std::string v(version());
  return v.c_str();
}

// ---- hosts ---------------------------------------------------------------------------------

int iovamap_host_open(int source, const char* path, int policy, const char* const* dma_limits,
                      size_t dma_limit_count, iovamap_host** out) {
  return guarded("iovamap_host_open", [&] {
    if (!out) return null_argument("iovamap_host_open", "out");
    HostSpec spec;
    switch (source) {
      case IOVAMAP_SOURCE_LIVE:
        spec.source = HostSource::kLive;
        spec.path = path ? path : "/";
        break;
      case IOVAMAP_SOURCE_SNAPSHOT:
      case IOVAMAP_SOURCE_TOPOLOGY:
        if (!path) return null_argument("iovamap_host_open", "path");
        spec.source =
            source == IOVAMAP_SOURCE_SNAPSHOT ? HostSource::kSnapshot : HostSource::kTopology;
        spec.path = path;
        break;
      default:
        return fail(EINVAL, "iovamap_host_open: unknown source " + std::to_string(source));
    }
    if (!valid_policy(policy))
      return fail(EINVAL, "iovamap_host_open: unknown policy " + std::to_string(policy));
    spec.policy = static_cast<Policy>(policy);
    Result<std::vector<std::string>> limits = strings(dma_limits, dma_limit_count, "dma_limits");
    if (!limits) return fail(limits.error());
    spec.dma_limits = std::move(*limits);
    Result<LoadedHost> loaded = load_host(spec);
    if (!loaded) return fail(loaded.error());
    auto object = std::make_unique<HostObject>();
    object->loaded = std::move(*loaded);
    return publish(std::move(object), out);
  });
}

int iovamap_host_close(iovamap_host* host) {
  return destroy<HostObject>(host);
}

int iovamap_host_groups(const iovamap_host* host, uint32_t* out, size_t cap, size_t* count) {
  return guarded("iovamap_host_groups", [&] {
    const HostObject* h = lookup<HostObject>(host);
    if (!h) return bad_handle(Tag::kHost);
    return fill("iovamap_host_groups", out, cap, count, h->loaded.host.groups,
                [](const Group& g) { return g.id; });
  });
}

int iovamap_host_group_devices(const iovamap_host* host, uint32_t group_id, iovamap_device* out,
                               size_t cap, size_t* count) {
  return guarded("iovamap_host_group_devices", [&] {
    const HostObject* h = lookup<HostObject>(host);
    if (!h) return bad_handle(Tag::kHost);
    const Group* g = h->loaded.host.find_group(group_id);
    if (!g)
      return fail(ENOENT, "no group " + std::to_string(group_id) + " in " + h->loaded.host.source);
    return fill("iovamap_host_group_devices", out, cap, count, g->devices,
                [&](const Device& d) { return to_c(d, g->id); });
  });
}

int iovamap_host_find_devices(const iovamap_host* host, const char* slot, const char* ids,
                              iovamap_device* out, size_t cap, size_t* count) {
  return guarded("iovamap_host_find_devices", [&] {
    const HostObject* h = lookup<HostObject>(host);
    if (!h) return bad_handle(Tag::kHost);
    SlotFilter slot_filter;
    IdFilter id_filter;
    if (slot) {
      Result<SlotFilter> f = parse_slot_filter(slot);
      if (!f) return fail(f.error());
      slot_filter = *f;
    }
    if (ids) {
      Result<IdFilter> f = parse_id_filter(ids);
      if (!f) return fail(f.error());
      id_filter = *f;
    }
    std::vector<iovamap_device> found;
    for (const Group& g : h->loaded.host.groups)
      for (const Device& d : g.devices)
        if (slot_filter.matches(d) && id_filter.matches(d)) found.push_back(to_c(d, g.id));
    return fill("iovamap_host_find_devices", out, cap, count, found,
                [](const iovamap_device& d) { return d; });
  });
}

int iovamap_host_select_groups(const iovamap_host* host, const char* const* selectors,
                               size_t selector_count, const char* const* id_filters,
                               size_t id_filter_count, uint32_t* out, size_t cap, size_t* count) {
  return guarded("iovamap_host_select_groups", [&] {
    const HostObject* h = lookup<HostObject>(host);
    if (!h) return bad_handle(Tag::kHost);
    Result<std::vector<uint32_t>> ids =
        selected(h->loaded.host, selectors, selector_count, id_filters, id_filter_count);
    if (!ids) return fail(ids.error());
    return fill("iovamap_host_select_groups", out, cap, count, *ids,
                [](uint32_t id) { return id; });
  });
}

// ---- containers ----------------------------------------------------------------------------

int iovamap_host_describe(const iovamap_host* host, int rules, const char* const* selectors,
                          size_t selector_count, const char* const* id_filters,
                          size_t id_filter_count, iovamap_report** out) {
  return guarded("iovamap_host_describe", [&] {
    const HostObject* h = lookup<HostObject>(host);
    if (!h) return bad_handle(Tag::kHost);
    if (!out) return null_argument("iovamap_host_describe", "out");
    if (!valid_rules(rules))
      return fail(EINVAL, "iovamap_host_describe: unknown rules " + std::to_string(rules));
    Result<std::vector<uint32_t>> ids =
        selected(h->loaded.host, selectors, selector_count, id_filters, id_filter_count);
    if (!ids) return fail(ids.error());
    Result<ContainerReport> r = describe_container(
        h->loaded.host, *ids, h->loaded.policy,
        rules == IOVAMAP_RULES_IOMMUFD ? ContainerRules::kIommufd : ContainerRules::kType1);
    if (!r) return fail(r.error());
    auto object = std::make_unique<ReportObject>();
    object->report = std::move(*r);
    if (object->report.refusal) object->refusal_message = object->report.refusal->message;
    return publish(std::move(object), out);
  });
}

int iovamap_report_destroy(iovamap_report* report) {
  return destroy<ReportObject>(report);
}

int iovamap_report_get_info(const iovamap_report* report, iovamap_report_info* out) {
  return guarded("iovamap_report_get_info", [&] {
    const ReportObject* r = lookup<ReportObject>(report);
    if (!r) return bad_handle(Tag::kReport);
    if (!out) return null_argument("iovamap_report_get_info", "out");
    const ContainerReport& c = r->report;
    iovamap_report_info info{};
    info.rules = c.rules == ContainerRules::kIommufd ? IOVAMAP_RULES_IOMMUFD : IOVAMAP_RULES_TYPE1;
    info.policy = static_cast<iovamap_policy>(c.policy);
    info.alignment = c.alignment;
    info.range_count = c.usable.size();
    info.warning_count = c.warnings.size();
    info.refusal_errno = c.refusal ? c.refusal->code : 0;
    info.refusal_message = r->refusal_message.c_str();
    *out = info;
    return 0;
  });
}

int iovamap_report_ranges(const iovamap_report* report, iovamap_range* out, size_t cap,
                          size_t* count) {
  return guarded("iovamap_report_ranges", [&] {
    const ReportObject* r = lookup<ReportObject>(report);
    if (!r) return bad_handle(Tag::kReport);
    return fill("iovamap_report_ranges", out, cap, count, r->report.usable,
                [](const UsableRange& u) {
                  return iovamap_range{u.range.first, u.range.last};
                });
  });
}

int iovamap_report_range(const iovamap_report* report, size_t index, iovamap_usable_range* out) {
  return guarded("iovamap_report_range", [&] {
    const ReportObject* r = lookup<ReportObject>(report);
    if (!r) return bad_handle(Tag::kReport);
    if (!out) return null_argument("iovamap_report_range", "out");
    if (index >= r->report.usable.size())
      return fail(ERANGE, "iovamap_report_range: index " + std::to_string(index) + " of " +
                              std::to_string(r->report.usable.size()) + " ranges");
    const UsableRange& u = r->report.usable[index];
    *out = iovamap_usable_range{{u.range.first, u.range.last}, u.below.size(), u.above.size()};
    return 0;
  });
}

int iovamap_report_stop(const iovamap_report* report, size_t range_index, int side,
                        size_t stop_index, iovamap_stop* out) {
  return guarded("iovamap_report_stop", [&] {
    const ReportObject* r = lookup<ReportObject>(report);
    if (!r) return bad_handle(Tag::kReport);
    if (!out) return null_argument("iovamap_report_stop", "out");
    if (side != IOVAMAP_BELOW && side != IOVAMAP_ABOVE)
      return fail(EINVAL, "iovamap_report_stop: unknown side " + std::to_string(side));
    if (range_index >= r->report.usable.size())
      return fail(ERANGE, "iovamap_report_stop: range " + std::to_string(range_index) + " of " +
                              std::to_string(r->report.usable.size()));
    const UsableRange& u = r->report.usable[range_index];
    const std::vector<RangeStop>& stops = side == IOVAMAP_BELOW ? u.below : u.above;
    if (stop_index >= stops.size())
      return fail(ERANGE, "iovamap_report_stop: stop " + std::to_string(stop_index) + " of " +
                              std::to_string(stops.size()));
    const RangeStop& s = stops[stop_index];
    iovamap_stop c{};
    c.group_id = s.group_id;
    c.device = s.device.c_str();
    c.range = iovamap_range{s.range.first, s.range.last};
    c.region_type = -1;
    switch (s.kind) {
      case RangeStop::Kind::kAperture:
        c.kind = IOVAMAP_STOP_APERTURE;
        c.type_name = "aperture";
        break;
      case RangeStop::Kind::kListQuirk:
        c.kind = IOVAMAP_STOP_LIST_QUIRK;
        c.type_name = "list-quirk";
        break;
      case RangeStop::Kind::kRegion:
        c.kind = IOVAMAP_STOP_REGION;
        c.type_name = "region";
        if (s.type) {
          c.region_type = static_cast<int>(*s.type);
          c.type_name = type_name(*s.type).data();  // static, NUL-terminated literals
        }
        break;
    }
    *out = c;
    return 0;
  });
}

int iovamap_report_warning(const iovamap_report* report, size_t index, const char** out) {
  return guarded("iovamap_report_warning", [&] {
    const ReportObject* r = lookup<ReportObject>(report);
    if (!r) return bad_handle(Tag::kReport);
    if (!out) return null_argument("iovamap_report_warning", "out");
    if (index >= r->report.warnings.size())
      return fail(ERANGE, "iovamap_report_warning: index " + std::to_string(index) + " of " +
                              std::to_string(r->report.warnings.size()) + " warnings");
    *out = r->report.warnings[index].c_str();
    return 0;
  });
}

// ---- checking mappings ---------------------------------------------------------------------

int iovamap_checker_create(const iovamap_host* host, const char* const* selectors,
                           size_t selector_count, iovamap_checker** out) {
  return guarded("iovamap_checker_create", [&] {
    const HostObject* h = lookup<HostObject>(host);
    if (!h) return bad_handle(Tag::kHost);
    if (!out) return null_argument("iovamap_checker_create", "out");
    Result<std::vector<uint32_t>> ids =
        selected(h->loaded.host, selectors, selector_count, nullptr, 0);
    if (!ids) return fail(ids.error());
    Result<MappingChecker> c = MappingChecker::create(h->loaded.host, *ids, h->loaded.policy);
    if (!c) return fail(c.error());
    return publish(std::make_unique<CheckerObject>(std::move(*c)), out);
  });
}

int iovamap_checker_destroy(iovamap_checker* checker) {
  return destroy<CheckerObject>(checker);
}

int iovamap_checker_check(iovamap_checker* checker, uint64_t iova, uint64_t size,
                          iovamap_verdict* out) {
  return guarded("iovamap_checker_check", [&] {
    CheckerObject* c = lookup<CheckerObject>(checker);
    if (!c) return bad_handle(Tag::kChecker);
    if (!out) return null_argument("iovamap_checker_check", "out");
    MappingVerdict v = c->checker.check(PlannedMapping{.iova = iova, .size = size});
    c->reason = v.refusal ? v.refusal->message : std::string();
    iovamap_verdict out_v{};
    out_v.ok = v.ok() ? 1 : 0;
    out_v.refusal_errno = v.refusal ? v.refusal->code : 0;
    out_v.reason = c->reason.c_str();
    out_v.has_nearest = v.nearest ? 1 : 0;
    out_v.nearest = v.nearest.value_or(0);
    out_v.budget_spent = v.budget_spent ? 1 : 0;
    *out = out_v;
    return 0;
  });
}

// ---- the allocator -------------------------------------------------------------------------

int iovamap_allocator_create(const iovamap_range* ranges, size_t range_count, uint64_t granule,
                             iovamap_allocator** out) {
  return guarded("iovamap_allocator_create", [&] {
    if (!out) return null_argument("iovamap_allocator_create", "out");
    if (range_count > 0 && !ranges) return null_argument("iovamap_allocator_create", "ranges");
    std::vector<Range> usable;
    usable.reserve(range_count);
    for (size_t i = 0; i < range_count; ++i) {
      if (ranges[i].first > ranges[i].last)
        return fail(EINVAL, "iovamap_allocator_create: range " + std::to_string(i) +
                                " has first > last (a closed range [first, last])");
      usable.push_back(Range{ranges[i].first, ranges[i].last});
    }
    Result<std::unique_ptr<IovaAllocator>> a =
        IovaAllocator::create(RangeSet::from_ranges(usable), granule);
    if (!a) return fail(a.error());
    return publish(std::move(*a), out);
  });
}

int iovamap_allocator_destroy(iovamap_allocator* alloc) {
  return destroy<IovaAllocator>(alloc);
}

int iovamap_allocator_alloc_at(iovamap_allocator* alloc, uint64_t iova, uint64_t size,
                               iovamap_range* out) {
  return guarded("iovamap_allocator_alloc_at", [&] {
    IovaAllocator* a = lookup<IovaAllocator>(alloc);
    if (!a) return bad_handle(Tag::kAllocator);
    if (!out) return null_argument("iovamap_allocator_alloc_at", "out");
    Result<Range> r = a->allocate_at(iova, size);
    if (!r) return fail(r.error());
    *out = iovamap_range{r->first, r->last};
    return 0;
  });
}

// iovamap_allocator_alloc and iovamap_allocator_free are in src/iova_allocator.cc.

int iovamap_allocator_get_stats(const iovamap_allocator* alloc, iovamap_allocator_stats* out) {
  return guarded("iovamap_allocator_get_stats", [&] {
    const IovaAllocator* a = lookup<IovaAllocator>(alloc);
    if (!a) return bad_handle(Tag::kAllocator);
    if (!out) return null_argument("iovamap_allocator_get_stats", "out");
    AllocatorStats s = a->stats();
    *out = iovamap_allocator_stats{static_cast<uint64_t>(s.usable_bytes),
                                   static_cast<uint64_t>(s.free_bytes),
                                   static_cast<uint64_t>(s.cached_bytes),
                                   s.live_count,
                                   static_cast<uint64_t>(s.largest_free_block),
                                   s.free_extents,
                                   s.metadata_bytes};
    return 0;
  });
}

}  // extern "C"
#pragma GCC visibility pop
