// PCI names from pci.ids through libpci, or none (pci_names.h).
//
// The texts follow pciutils 3.9's lib/names.c (pci_lookup_name, format_name,
// format_name_pair) and lspci.c (show_terse: two 128-byte buffers, -n and -nn through
// numeric_ids); the code is ours, and the tests compare it with libpci and lspci themselves.
#include "pci_names.h"

#include <cstdio>
#include <string_view>

#ifdef IOVAMAP_HAVE_LIBPCI
#include <cerrno>
#include <csetjmp>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <mutex>

extern "C" {
#include <pci/pci.h>
}
#endif

namespace iovamap {

namespace {

// lspci formats each name into a 128-byte buffer; libpci's format_name and format_name_pair
// end a text that does not fit with "..." in its last three bytes.
constexpr size_t kLspciBuffer = 128;

std::string fit_lspci_buffer(std::string text) {
  if (text.size() >= kLspciBuffer) {
    text.resize(kLspciBuffer - 1);
    text.replace(kLspciBuffer - 4, 3, "...");
  }
  return text;
}

std::string hex4(unsigned value) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04x", value & 0xffff);
  return buf;
}

#ifdef IOVAMAP_HAVE_LIBPCI

// libpci reports errors through a callback that must not return: the default prints
// "pcilib: ..." and exits the process, and the code after each call assumes it never comes
// back (lib/names-parse.c, pci_load_name_list, on a malformed pci.ids; pci_malloc when out of
// memory). Ours records the message and jumps back to the guarded call that is running on this
// thread. Between that call's setjmp and the jump there are only libpci's C frames and
// plain functions of ours without destructors, so the jump skips no C++ cleanup.
thread_local std::jmp_buf* t_armed = nullptr;
thread_local char t_message[256];

// GNU noreturn rather than [[noreturn]]: clang takes it as part of the type libpci declares.
__attribute__((noreturn, format(printf, 1, 2))) void on_error(char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(t_message, sizeof t_message, format, args);
  va_end(args);
  if (t_armed != nullptr) std::longjmp(*t_armed, 1);
  std::abort();  // a libpci call outside guarded(): a bug in this file
}

// Warnings come only from the network cache (lib/names-cache.c), which we never enable, and
// debug messages only when asked for: both are dropped, so nothing reaches stderr.
__attribute__((format(printf, 1, 2))) void on_quiet(char*, ...) {}

// Runs fn(arg) so that a libpci error comes back here as false (t_message says what).
bool guarded(void (*fn)(void*), void* arg) {
  std::jmp_buf here;
  std::jmp_buf* const outer = t_armed;
  t_armed = &here;
  if (setjmp(here) != 0) {
    t_armed = outer;
    return false;
  }
  fn(arg);
  t_armed = outer;
  return true;
}

// Lookups ask pci.ids only: no numbers in the answer (nullptr when unnamed), no udev hwdb.
constexpr int kRawLookup = PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB;

struct LookupCall {
  pci_access* access;
  char* buf;
  int size;
  int flags;
  int arg1, arg2;
  const char* result = nullptr;
};

void call_lookup(void* p) {
  auto* c = static_cast<LookupCall*>(p);
  c->result = pci_lookup_name(c->access, c->buf, c->size, c->flags, c->arg1, c->arg2);
}

struct LoadCall {
  pci_access* access;
  int ok = 0;
};

void call_load(void* p) {
  auto* c = static_cast<LoadCall*>(p);
  c->ok = pci_load_name_list(c->access);
}

void call_cleanup(void* p) {
  pci_cleanup(static_cast<pci_access*>(p));
}

#endif  // IOVAMAP_HAVE_LIBPCI

}  // namespace

struct PciNames::Impl {
  std::string problem;
#ifdef IOVAMAP_HAVE_LIBPCI
  mutable std::mutex mutex;
  pci_access* access = nullptr;  // with names loaded, or nullptr

  ~Impl() {
    if (access != nullptr) guarded(call_cleanup, access);
  }

  std::optional<std::string> lookup(int flags, int arg1, int arg2) const {
    if (access == nullptr) return std::nullopt;
    char buf[1024];
    LookupCall call{access, buf, static_cast<int>(sizeof buf), flags | kRawLookup, arg1, arg2};
    std::lock_guard<std::mutex> lock(mutex);
    if (!guarded(call_lookup, &call) || call.result == nullptr) return std::nullopt;
    return std::string(call.result);
  }
#endif

  std::optional<std::string> vendor(uint16_t v) const {
#ifdef IOVAMAP_HAVE_LIBPCI
    return lookup(PCI_LOOKUP_VENDOR, v, 0);
#else
    (void)v;
    return std::nullopt;
#endif
  }

  std::optional<std::string> device(uint16_t v, uint16_t d) const {
#ifdef IOVAMAP_HAVE_LIBPCI
    return lookup(PCI_LOOKUP_DEVICE, v, d);
#else
    (void)v, (void)d;
    return std::nullopt;
#endif
  }

  // The subclass's name, or else the base class's, of a 16-bit class (base << 8 | subclass).
  struct ClassNames {
    std::optional<std::string> subclass;
    std::optional<std::string> base;
  };
  ClassNames classes(uint16_t cls) const {
#ifdef IOVAMAP_HAVE_LIBPCI
    // pci_lookup_name names the subclass, or else the base class followed by " [cccc]" (it
    // turns on PCI_LOOKUP_MIXED for a base class alone), or gives nothing.
    std::optional<std::string> name = lookup(PCI_LOOKUP_CLASS, cls, 0);
    if (!name) return {};
    const std::string suffix = " [" + hex4(cls) + "]";
    if (name->size() > suffix.size() &&
        name->compare(name->size() - suffix.size(), suffix.size(), suffix) == 0)
      return {std::nullopt, name->substr(0, name->size() - suffix.size())};
    return {name, std::nullopt};
#else
    (void)cls;
    return {};
#endif
  }
};

PciNames::PciNames(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PciNames::~PciNames() = default;

std::unique_ptr<PciNames> PciNames::open(const std::string& ids_file) {
  auto impl = std::make_unique<Impl>();
#ifdef IOVAMAP_HAVE_LIBPCI
  // pci_alloc only allocates and names the default database. pci_init is not called: it would
  // choose an access method, and its probing (lib/init.c, probe_sequence) ends, as root on x86,
  // with methods that poke the configuration ports 0xcf8/0xcfc to see if they answer. Names
  // need no access method.
  pci_access* a = pci_alloc();
  a->error = on_error;
  a->warning = on_quiet;
  a->debug = on_quiet;
  a->numeric_ids = 0;
  a->id_lookup_mode = 0;  // no ~/.pciids-cache, no DNS
  char hwdb_disable[] = "hwdb.disable", one[] = "1";
  pci_set_param(a, hwdb_disable, one);  // -1 when libpci has no hwdb: nothing to disable
  if (!ids_file.empty()) pci_set_name_list_path(a, strdup(ids_file.c_str()), 1);
  const std::string path = a->id_file_name != nullptr ? a->id_file_name : "";
  LoadCall load{a};
  if (!guarded(call_load, &load)) {
    std::string message = t_message;
    while (!message.empty() && message.back() == '\n') message.pop_back();
    impl->problem = message;  // "Parse error at FILE, line N"
  } else if (!load.ok) {
    std::FILE* f = std::fopen(path.c_str(), "r");
    int error = errno;
    if (f != nullptr) std::fclose(f);
    impl->problem =
        "cannot read " + path + (f == nullptr ? ": " + std::string(strerror(error)) : "");
  } else if (a->id_hash == nullptr) {
    impl->problem = path + " names no PCI ids";
  }
  if (impl->problem.empty())
    impl->access = a;
  else
    guarded(call_cleanup, a);
#else
  (void)ids_file;
  impl->problem = "iovamap was built without libpci";
#endif
  return std::unique_ptr<PciNames>(new PciNames(std::move(impl)));
}

bool PciNames::has_names() const {
  return impl_->problem.empty();
}

const std::string& PciNames::problem() const {
  return impl_->problem;
}

std::optional<std::string> PciNames::vendor_name(uint16_t vendor) const {
  return impl_->vendor(vendor);
}

std::optional<std::string> PciNames::device_name(uint16_t vendor, uint16_t device) const {
  return impl_->device(vendor, device);
}

std::optional<std::string> PciNames::class_name(uint32_t class_code) const {
  Impl::ClassNames c = impl_->classes(static_cast<uint16_t>(class_code >> 8));
  return c.subclass ? c.subclass : c.base;
}

std::string PciNames::class_text(uint32_t class_code, PciNameStyle style) const {
  // pci_lookup_name(PCI_LOOKUP_CLASS) through format_name: the number alone (-n); the
  // subclass's name; the base class's name always with the number; or "Class" and the number;
  // -nn adds " [number]" to a name and writes "Class [number]".
  const uint16_t cls = static_cast<uint16_t>(class_code >> 8);
  const std::string number = hex4(cls);
  if (style == PciNameStyle::kNumeric) return number;
  Impl::ClassNames c = impl_->classes(cls);
  const std::optional<std::string>& name = c.subclass ? c.subclass : c.base;
  const bool both = style == PciNameStyle::kBoth || (!c.subclass && c.base);
  if (!name) return both ? "Class [" + number + "]" : "Class " + number;
  return fit_lspci_buffer(both ? *name + " [" + number + "]" : *name);
}

std::string PciNames::vendor_device_text(uint16_t vendor, uint16_t device,
                                         PciNameStyle style) const {
  // pci_lookup_name(PCI_LOOKUP_VENDOR | PCI_LOOKUP_DEVICE) through format_name_pair.
  const std::string number = hex4(vendor) + ":" + hex4(device);
  if (style == PciNameStyle::kNumeric) return number;
  std::optional<std::string> v = impl_->vendor(vendor);
  std::optional<std::string> d = impl_->device(vendor, device);
  std::string text;
  if (style == PciNameStyle::kBoth) {
    if (!v)
      text = "Device [" + number + "]";
    else if (!d)
      text = *v + " Device [" + number + "]";
    else
      text = *v + " " + *d + " [" + number + "]";
  } else {
    if (!v)
      text = "Device " + number;
    else if (!d)
      text = *v + " Device " + hex4(device);
    else
      text = *v + " " + *d;
  }
  return fit_lspci_buffer(std::move(text));
}

std::string PciNames::device_text(uint16_t vendor, uint16_t device, uint32_t class_code,
                                  PciNameStyle style) const {
  return class_text(class_code, style) + ": " + vendor_device_text(vendor, device, style);
}

}  // namespace iovamap
