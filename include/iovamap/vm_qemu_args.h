// Reading a VM from a QEMU command line: the arguments after `--`, or a file holding the
// command (as `ps -o args`, a libvirt log's command line, or a script writes it).
//
// Every option QEMU 7.2 to 10.x takes for an x86 VM is recognised, and the ones that move a
// guest-physical address are read (-machine, -m, -cpu, -bios, -drive if=pflash, -device
// vfio-pci/ivshmem-plain/pc-dimm/intel-iommu/virtio-iommu-pci, -object memory-backend-*,
// -global *.pci-hole64-size, -fw_cfg opt/ovmf/X-PciMmio64Mb); an option QEMU does not have is
// an error naming it and its position, as QEMU refuses it too.
//
// Example:
//   Result<VmConfig> vm = parse_qemu_command_file(
//       "qemu-system-x86_64 -M q35 -m 16G -cpu host \\\n  -device vfio-pci,host=01:00.0\n",
//       "vm.sh");
//   vm->ram_size;                  // 16 GiB
//   vm->host_devices[0].line;      // 2
//   // "vm.sh:2: argument 7 '-fooo': not a QEMU option"
//
// The file is split as a POSIX shell splits words: blanks separate, '...' and "..." quote,
// backslash escapes, backslash-newline continues the line, '#' at a word start begins a
// comment. The first word is the program when it does not start with '-'. Variables and
// command substitution are not expanded (an error: iovamap does not run a shell).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "iovamap/result.h"
#include "iovamap/vm_config.h"

namespace iovamap {

// One word of a command line and the line of the file it starts on (1 for arguments).
struct QemuArg {
  std::string text;
  size_t line = 1;
};

// Splits a command file into words (see the file comment). Errors are "FILE:LINE: ...".
Result<std::vector<QemuArg>> split_qemu_command(std::string_view text, const std::string& file);

// Reads the VM from QEMU's arguments (the program name first, or not). Errors are
// "FILE:LINE: argument N 'OPTION': ...": an unknown option, a missing value, a size that does
// not parse or overflows, a machine that is not x86 PC.
Result<VmConfig> parse_qemu_args(const std::vector<QemuArg>& args, const std::string& file);

// split_qemu_command, then parse_qemu_args.
Result<VmConfig> parse_qemu_command_file(std::string_view text, const std::string& file);

// Applies QEMU options to a VM already read (Proxmox's `args:`, libvirt's <qemu:commandline>):
// the same reading as parse_qemu_args, on top of `vm`.
Status apply_qemu_args(const std::vector<QemuArg>& args, const std::string& file, VmConfig* vm);

}  // namespace iovamap
