// Reading a VM from a libvirt domain XML, as `virsh dumpxml NAME` writes it.
//
// The XML is parsed by libxml2 (Debian's libxml2, scripts/setup.sh), with the network off and
// any DOCTYPE refused (a domain has none; it is where entity bombs live). What is read
// (docs/formatdomain of libvirt): <memory>, <maxMemory slots>, <os><type machine> and
// <loader> / firmware='efi', <cpu mode> with <model> and <maxphysaddr mode bits limit>,
// <hostdev type='pci'> source addresses, <memory model='dimm|nvdimm|virtio-mem'>,
// <shmem><model type='ivshmem-plain'>, <iommu model> with <driver aw_bits>, and
// <qemu:commandline> arguments (read as QEMU arguments, vm_qemu_args.h).
//
// Example:
//   Result<VmConfig> vm = parse_libvirt_domain(xml_text, "win11.xml");
//   // "win11.xml:1: <network>: not a libvirt domain (virsh dumpxml writes <domain ...>)"
//
// Sharp edges: sizes take libvirt's units (KiB by default for memory, bytes for <shmem>
// size; KB/MB/GB are powers of 1000, K/KiB... of 1024); a size that overflows is an error.
// Without libxml2 at build time (IOVAMAP_LIBXML2=OFF, the static build) every call is ENOTSUP.
#pragma once

#include <string>
#include <string_view>

#include "iovamap/result.h"
#include "iovamap/vm_config.h"

namespace iovamap {

// Reads a domain XML. Errors name the file and line: XML that does not parse (libxml2's
// reason), a root element other than <domain>, a size or number that does not parse or
// overflows, a machine that is not x86 PC.
Result<VmConfig> parse_libvirt_domain(std::string_view xml, const std::string& file);

// A libvirt scaled integer: `value` in `unit` ("" for `default_unit`): b, bytes, k, KiB, KB,
// M, MiB, MB, G, GiB, GB, T, TiB, TB, P, PiB, PB, E, EiB, EB (case does not matter).
// EINVAL on syntax, ERANGE when the bytes pass 2^64-1.
Result<uint64_t> parse_libvirt_size(std::string_view value, std::string_view unit,
                                    std::string_view default_unit);

}  // namespace iovamap
