// A VM from a libvirt domain XML (include/iovamap/vm_libvirt.h), parsed with libxml2.
#include "iovamap/vm_libvirt.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>

#include "iovamap/vm_qemu_args.h"
#include "quoted.h"

#ifdef IOVAMAP_HAVE_LIBXML2
#include <libxml/parser.h>
#include <libxml/tree.h>
#endif

namespace iovamap {
using detail::quoted;

Result<uint64_t> parse_libvirt_size(std::string_view value, std::string_view unit,
                                    std::string_view default_unit) {
  // src/util/virutil.c virScaleInteger: the unit names and their factors.
  std::string u(unit.empty() ? default_unit : unit);
  for (char& c : u) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  struct Scale {
    const char* name;
    u128 factor;
  };
  static const Scale kScales[] = {
      {"b", 1},
      {"bytes", 1},
      {"k", u128{1} << 10},
      {"kib", u128{1} << 10},
      {"kb", 1000},
      {"m", u128{1} << 20},
      {"mib", u128{1} << 20},
      {"mb", 1000000},
      {"g", u128{1} << 30},
      {"gib", u128{1} << 30},
      {"gb", 1000000000},
      {"t", u128{1} << 40},
      {"tib", u128{1} << 40},
      {"tb", 1000000000000},
      {"p", u128{1} << 50},
      {"pib", u128{1} << 50},
      {"pb", 1000000000000000},
      {"e", u128{1} << 60},
      {"eib", u128{1} << 60},
      {"eb", 1000000000000000000},
  };
  const Scale* scale = nullptr;
  for (const Scale& s : kScales)
    if (u == s.name) scale = &s;
  if (!scale) return make_error(EINVAL, "unknown unit " + quoted(unit));
  std::string_view v = value;
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec == std::errc::result_out_of_range)
    return make_error(ERANGE, quoted(value) + " " + u + ": above 2^64-1 bytes");
  if (ec != std::errc() || p != v.data() + v.size() || v.empty())
    return make_error(EINVAL, "not a number: " + quoted(value));
  u128 bytes = static_cast<u128>(n) * scale->factor;
  if (bytes > UINT64_MAX)
    return make_error(ERANGE, quoted(value) + " " + u + ": above 2^64-1 bytes");
  return static_cast<uint64_t>(bytes);
}

#ifndef IOVAMAP_HAVE_LIBXML2

Result<VmConfig> parse_libvirt_domain(std::string_view, const std::string& file) {
  return make_error(ENOTSUP, file +
                                 ": this iovamap was built without libxml2; libvirt domain "
                                 "XML cannot be read (scripts/setup.sh installs libxml2-dev)");
}

#else

namespace {

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
struct CtxtFree {
  void operator()(xmlParserCtxt* c) const { xmlFreeParserCtxt(c); }
};

std::string_view name_of(const xmlNode* n) {
  return reinterpret_cast<const char*>(n->name);
}

bool is(const xmlNode* n, std::string_view name) {
  return n && n->type == XML_ELEMENT_NODE && name_of(n) == name;
}

std::optional<std::string> attr(const xmlNode* n, const char* name) {
  xmlChar* v = xmlGetProp(n, reinterpret_cast<const xmlChar*>(name));
  if (!v) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return out;
}

// The element's text (its text children only: no entity is expanded).
std::string text_of(const xmlNode* n) {
  std::string out;
  for (const xmlNode* c = n->children; c; c = c->next)
    if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)
      out += reinterpret_cast<const char*>(c->content);
  return out;
}

const xmlNode* child(const xmlNode* n, std::string_view name) {
  for (const xmlNode* c = n ? n->children : nullptr; c; c = c->next)
    if (is(c, name)) return c;
  return nullptr;
}

template <class F>
void each_child(const xmlNode* n, std::string_view name, F f) {
  for (const xmlNode* c = n ? n->children : nullptr; c; c = c->next)
    if (is(c, name)) f(c);
}

size_t line_of(const xmlNode* n) {
  long l = xmlGetLineNo(n);
  return l > 0 ? static_cast<size_t>(l) : 0;
}

class DomainReader {
 public:
  DomainReader(const std::string& file, VmConfig* vm) : file_(file), vm_(vm) {}

  Error at(const xmlNode* n, const Error& e) const {
    return e.with_context(file_ + ":" + std::to_string(line_of(n)) + ": <" +
                          std::string(name_of(n)) + ">");
  }

  Result<uint64_t> size(const xmlNode* n, std::string_view default_unit) const {
    Result<uint64_t> s = parse_libvirt_size(text_of(n), attr(n, "unit").value_or(""), default_unit);
    if (!s) return at(n, s.error());
    return s;
  }

  Result<unsigned> bits(const xmlNode* n, const char* name, unsigned lo, unsigned hi) const {
    auto v = attr(n, name);
    if (!v) return at(n, make_error(EINVAL, std::string("no ") + name + "="));
    unsigned b = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), b);
    if (ec != std::errc() || p != v->data() + v->size() || b < lo || b > hi)
      return at(n, make_error(EINVAL, std::string(name) + "=" + quoted(*v) + ": expected " +
                                          std::to_string(lo) + " to " + std::to_string(hi)));
    return b;
  }

  Status read(const xmlNode* domain) {
    if (const xmlNode* m = child(domain, "memory")) {
      IOVAMAP_ASSIGN_OR_RETURN(vm_->ram_size, size(m, "KiB"));
      vm_->ram_line = line_of(m);
    }
    if (const xmlNode* m = child(domain, "maxMemory")) {
      IOVAMAP_ASSIGN_OR_RETURN(vm_->maxmem, size(m, "KiB"));
      if (attr(m, "slots")) {
        IOVAMAP_ASSIGN_OR_RETURN(unsigned s, bits(m, "slots", 0, 512));
        vm_->slots = s;
      }
    }
    IOVAMAP_RETURN_IF_ERROR(read_os(child(domain, "os")));
    IOVAMAP_RETURN_IF_ERROR(read_cpu(child(domain, "cpu")));
    IOVAMAP_RETURN_IF_ERROR(read_devices(child(domain, "devices")));
    // <qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
    for (const xmlNode* c = domain->children; c; c = c->next) {
      if (!is(c, "commandline")) continue;
      std::vector<QemuArg> args;
      each_child(c, "arg", [&](const xmlNode* a) {
        args.push_back({attr(a, "value").value_or(""), line_of(a)});
      });
      IOVAMAP_RETURN_IF_ERROR(apply_qemu_args(args, file_, vm_));
    }
    return Status();
  }

 private:
  Status read_os(const xmlNode* os) {
    if (!os) return Status();
    if (attr(os, "firmware") == "efi") {
      vm_->firmware = GuestFirmware::kOvmf;
      vm_->firmware_line = line_of(os);
    }
    if (const xmlNode* t = child(os, "type")) {
      if (auto m = attr(t, "machine")) {
        Result<MachineType> mt = parse_machine_type(*m);
        if (!mt) return at(t, mt.error());
        vm_->machine = *mt;
        vm_->machine_line = line_of(t);
      }
    }
    if (const xmlNode* l = child(os, "loader")) {
      std::string path = text_of(l);
      std::string lowered = path;
      for (char& ch : lowered) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (attr(l, "type") == "pflash" || lowered.find("ovmf") != std::string::npos ||
          lowered.find("edk2") != std::string::npos) {
        vm_->firmware = GuestFirmware::kOvmf;
        vm_->firmware_line = line_of(l);
      }
    }
    return Status();
  }

  Status read_cpu(const xmlNode* cpu) {
    if (!cpu) return Status();
    vm_->cpu.line = line_of(cpu);
    std::string mode = attr(cpu, "mode").value_or("custom");
    if (mode == "host-passthrough") {
      vm_->cpu.model = "host";
    } else if (mode == "maximum") {
      vm_->cpu.model = "max";
    } else if (mode == "host-model") {
      // libvirt turns host-model into a named model close to the host's CPU.
      vm_->cpu.model = "host-model";
    } else if (const xmlNode* m = child(cpu, "model")) {
      vm_->cpu.model = text_of(m);
    }
    if (const xmlNode* p = child(cpu, "maxphysaddr")) {
      // libvirt 8.7: passthrough = host-phys-bits=on (limit= host-phys-bits-limit, 9.2);
      // emulate = phys-bits=N.
      std::string pm = attr(p, "mode").value_or("");
      if (pm == "passthrough") {
        vm_->cpu.host_phys_bits = true;
        if (attr(p, "limit")) {
          IOVAMAP_ASSIGN_OR_RETURN(unsigned l, bits(p, "limit", 1, 64));
          vm_->cpu.host_phys_bits_limit = l;
        }
      } else if (pm == "emulate") {
        IOVAMAP_ASSIGN_OR_RETURN(unsigned b, bits(p, "bits", 32, 64));
        vm_->cpu.phys_bits = b;
      } else {
        return at(p, make_error(EINVAL, "mode=" + quoted(pm) +
                                            ": expected passthrough or "
                                            "emulate"));
      }
    }
    return Status();
  }

  Status read_devices(const xmlNode* devices) {
    if (!devices) return Status();
    for (const xmlNode* d = devices->children; d; d = d->next) {
      if (is(d, "hostdev")) {
        if (attr(d, "type") != "pci") continue;
        const xmlNode* a = child(child(d, "source"), "address");
        if (!a) return at(d, make_error(EINVAL, "no <source><address>"));
        IOVAMAP_ASSIGN_OR_RETURN(std::string addr, pci_address(a));
        vm_->host_devices.push_back({addr, line_of(d)});
      } else if (is(d, "memory")) {
        const xmlNode* t = child(d, "target");
        std::string model = attr(d, "model").value_or("dimm");
        const xmlNode* s = child(t, model == "virtio-mem" ? "requested" : "size");
        if (!s) return at(d, make_error(EINVAL, "no <target><size>"));
        IOVAMAP_ASSIGN_OR_RETURN(uint64_t bytes, size(s, "KiB"));
        vm_->dimms.push_back({model, bytes, line_of(d)});
        // <address type='dimm' slot='0' base='0x100000000'/>: libvirt passes base as addr=.
        const xmlNode* a = child(d, "address");
        if (a && attr(a, "type") == "dimm") {
          if (std::optional<std::string> base = attr(a, "base")) {
            Result<uint64_t> b = parse_qemu_size(*base, 'B');
            if (!b) return at(a, b.error());
            vm_->dimms.back().addr = *b;
          }
        }
      } else if (is(d, "shmem")) {
        const xmlNode* m = child(d, "model");
        std::string type = m ? attr(m, "type").value_or("ivshmem-plain") : "ivshmem-plain";
        std::string name = attr(d, "name").value_or("shmem");
        if (type == "ivshmem-doorbell") {
          vm_->notes.push_back("shmem " + name +
                               ": ivshmem-doorbell's size comes from the "
                               "server at run time; not checked");
          continue;
        }
        uint64_t bytes = 4 * kMiB;  // libvirt leaves QEMU's default: 4 MiB
        if (const xmlNode* s = child(d, "size")) {
          IOVAMAP_ASSIGN_OR_RETURN(bytes, size(s, "b"));
        }
        vm_->ram_bars.push_back({name, bytes, line_of(d)});
      } else if (is(d, "iommu")) {
        std::string model = attr(d, "model").value_or("");
        VmViommu v{.model = model == "intel"    ? "intel-iommu"
                            : model == "virtio" ? "virtio-iommu"
                            : model == "amd"    ? "amd-iommu"
                                                : model,
                   .line = line_of(d)};
        if (const xmlNode* drv = child(d, "driver"); drv && attr(drv, "aw_bits")) {
          IOVAMAP_ASSIGN_OR_RETURN(unsigned b, bits(drv, "aw_bits", 32, 64));
          v.aw_bits = b;
        }
        vm_->viommu = v;
      }
    }
    return Status();
  }

  Result<std::string> pci_address(const xmlNode* a) const {
    // domain='0x0000' bus='0x01' slot='0x00' function='0x0'
    auto field = [&](const char* name, uint32_t max) -> Result<uint32_t> {
      std::string v = attr(a, name).value_or("0");
      std::string_view t = v;
      int base = 10;
      if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
        t.remove_prefix(2);
        base = 16;
      }
      uint32_t n = 0;
      auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), n, base);
      if (ec != std::errc() || p != t.data() + t.size() || t.empty() || n > max)
        return at(a, make_error(EINVAL, std::string(name) + "=" + quoted(v)));
      return n;
    };
    IOVAMAP_ASSIGN_OR_RETURN(uint32_t dom, field("domain", 0xffff));
    IOVAMAP_ASSIGN_OR_RETURN(uint32_t bus, field("bus", 0xff));
    IOVAMAP_ASSIGN_OR_RETURN(uint32_t slot, field("slot", 0x1f));
    IOVAMAP_ASSIGN_OR_RETURN(uint32_t fn, field("function", 7));
    char buf[16];
    snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", dom, bus, slot, fn);
    return std::string(buf);
  }

  const std::string& file_;
  VmConfig* vm_;
};

}  // namespace

Result<VmConfig> parse_libvirt_domain(std::string_view xml, const std::string& file) {
  if (xml.size() > 64 * kMiB) return make_error(EFBIG, file + ": larger than 64 MiB");
  std::unique_ptr<xmlParserCtxt, CtxtFree> ctxt(xmlNewParserCtxt());
  if (!ctxt) return make_system_error(ENOMEM, file + ": libxml2 could not start");
  // No network, no DTD loading, no entity substitution; errors are collected, not printed.
  int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
  std::unique_ptr<xmlDoc, DocFree> doc(xmlCtxtReadMemory(
      ctxt.get(), xml.data(), static_cast<int>(xml.size()), file.c_str(), nullptr, options));
  if (!doc) {
    const xmlError* e = xmlCtxtGetLastError(ctxt.get());
    std::string why = e && e->message ? e->message : "not XML";
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    size_t line = e ? static_cast<size_t>(std::max(e->line, 1)) : 1;
    return make_error(EINVAL, file + ":" + std::to_string(line) + ": not XML: " + why);
  }
  if (doc->intSubset || doc->extSubset)
    return make_error(
        EINVAL, file + ":" +
                    std::to_string(
                        doc->intSubset ? line_of(reinterpret_cast<xmlNode*>(doc->intSubset)) : 1) +
                    ": a <!DOCTYPE>: a libvirt domain has none (refused: it is "
                    "where entity expansion attacks live)");
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (!root) return make_error(EINVAL, file + ":1: no root element");
  if (!is(root, "domain"))
    return make_error(EINVAL, file + ":" + std::to_string(line_of(root)) + ": <" +
                                  quoted(name_of(root)) +
                                  ">: not a libvirt domain (virsh dumpxml writes <domain "
                                  "type='kvm'>)");
  VmConfig vm;
  vm.format = VmFormat::kLibvirt;
  vm.file = file;
  vm.cpu.model = "qemu64";
  DomainReader reader(file, &vm);
  IOVAMAP_RETURN_IF_ERROR(reader.read(root));
  return vm;
}

#endif

}  // namespace iovamap
