// Reading a VM from a QEMU command line (vm_qemu_args.h), hostile inputs included.
#include "iovamap/vm_qemu_args.h"

#include <gtest/gtest.h>

#include <string>

namespace iovamap {
namespace {

constexpr const char* kLookingGlass =
    "#!/bin/sh\n"
    "# a typical GPU passthrough VM\n"
    "qemu-system-x86_64 -enable-kvm -M pc-q35-7.2,accel=kvm \\\n"
    "  -m 16G -smp 8 -cpu host,kvm=off,hv_vendor_id=whatever \\\n"
    "  -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \\\n"
    "  -object memory-backend-file,id=lg,mem-path=/dev/shm/looking-glass,size=32M,share=on \\\n"
    "  -device ivshmem-plain,memdev=lg,id=kvmfr \\\n"
    "  -device 'vfio-pci,host=0000:01:00.0,multifunction=on' \\\n"
    "  -device vfio-pci,sysfsdev=/sys/bus/pci/devices/0000:01:00.1/ \\\n"
    "  -fw_cfg name=opt/ovmf/X-PciMmio64Mb,string=65536\n";

TEST(QemuArgs, ReadsWhatMovesAddresses) {
  VmConfig vm = parse_qemu_command_file(kLookingGlass, "vm.sh").value();
  EXPECT_EQ(vm.format, VmFormat::kQemu);
  EXPECT_EQ(vm.machine.family, MachineFamily::kQ35);
  EXPECT_EQ(vm.machine.major, 7);
  EXPECT_EQ(vm.machine_line, 3u);
  EXPECT_EQ(vm.ram_size, 16 * kGiB);
  EXPECT_EQ(vm.ram_line, 4u);
  EXPECT_EQ(vm.cpu.model, "host");
  EXPECT_EQ(vm.firmware, GuestFirmware::kOvmf);
  ASSERT_EQ(vm.ram_bars.size(), 1u);
  EXPECT_EQ(vm.ram_bars[0].size, 32 * kMiB);
  EXPECT_EQ(vm.ram_bars[0].id, "kvmfr");
  EXPECT_EQ(vm.ram_bars[0].line, 7u);
  ASSERT_EQ(vm.host_devices.size(), 2u);
  EXPECT_EQ(vm.host_devices[0].address, "0000:01:00.0");
  EXPECT_EQ(vm.host_devices[0].line, 8u);
  EXPECT_EQ(vm.host_devices[1].address, "0000:01:00.1");
  EXPECT_EQ(vm.ovmf_mmio64_mb, 65536u);
}

TEST(QemuArgs, MemoryHotplugCpuBitsAndVIommu) {
  std::vector<QemuArg> args;
  for (const char* a : {"-machine", "q35,max-ram-below-4g=2G", "-m", "size=4G,slots=4,maxmem=64G",
                        "-cpu", "EPYC,phys-bits=48", "-object", "memory-backend-ram,id=d0,size=8G",
                        "-device", "pc-dimm,memdev=d0,id=dimm0,addr=0x200000000", "-device",
                        "intel-iommu,aw-bits=48,caching-mode=on", "-global",
                        "q35-pcihost.pci-hole64-size=64G", "--device", "vfio-pci,host=02:00.0"})
    args.push_back({a, 1});
  VmConfig vm = parse_qemu_args(args, "<arguments>").value();
  EXPECT_EQ(vm.max_ram_below_4g, 2 * kGiB);
  EXPECT_EQ(vm.ram_size, 4 * kGiB);
  EXPECT_EQ(vm.maxmem, 64 * kGiB);
  EXPECT_EQ(vm.slots, 4u);
  ASSERT_EQ(vm.dimms.size(), 1u);
  EXPECT_EQ(vm.dimms[0].size, 8 * kGiB);
  EXPECT_EQ(vm.dimms[0].addr, 8 * kGiB);
  EXPECT_EQ(vm.cpu.phys_bits, 48u);
  ASSERT_TRUE(vm.viommu);
  EXPECT_EQ(vm.viommu->aw_bits, 48u);
  EXPECT_EQ(vm.pci_hole64_size, 64 * kGiB);
  EXPECT_EQ(vm.host_devices.at(0).address, "02:00.0");
  EXPECT_EQ(vm.firmware, GuestFirmware::kSeabios);
}

TEST(QemuArgs, CommasDoubledAndLastValueWins) {
  std::vector<QemuArg> args = {{"-m", 1},   {"2G", 1},
                               {"-m", 1},   {"size=8G", 1},
                               {"-cpu", 1}, {"host,host-phys-bits=on,host-phys-bits-limit=39", 1}};
  VmConfig vm = parse_qemu_args(args, "x").value();
  EXPECT_EQ(vm.ram_size, 8 * kGiB);
  EXPECT_EQ(vm.cpu.host_phys_bits, true);
  EXPECT_EQ(vm.cpu.host_phys_bits_limit, 39u);
}

TEST(QemuArgs, UnknownOptionNamesItAndItsPlace) {
  Result<VmConfig> r = parse_qemu_command_file("qemu-system-x86_64 -m 4G \\\n -fooo bar\n", "v.sh");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kInput);
  EXPECT_EQ(r.error().message, "v.sh:2: argument 3 '-fooo': not a QEMU option");
}

TEST(QemuArgs, BadInputsAreErrorsWithFileAndLine) {
  struct Case {
    const char* text;
    const char* expect;
  };
  for (const Case& c : std::vector<Case>{
           {"qemu -m 17179869184G", "x:1: argument 1 '-m': size '17179869184G': above 2^64-1"},
           {"qemu -m", "x:1: argument 1 '-m': needs a value"},
           {"qemu -m 4G disk.img", "x:1: argument 3 'disk.img': not an option"},
           {"qemu -M virt", "x:1: argument 1 '-M': machine 'virt': not a q35 or i440fx"},
           {"qemu -device vfio-pci", "x:1: argument 1 '-device': vfio-pci without host="},
           {"qemu -device ivshmem-plain,memdev=nope",
            "x:1: ivshmem-plain memdev='nope': no -object memory-backend-* with that id"},
           {"qemu -cpu host,phys-bits=99", "phys-bits='99': expected 32 to 64"},
           {"qemu -m \"$MEM\"", "x:1: a shell expansion"},
           {"qemu -m 4G; rm -rf /", "x:1: shell syntax ';'"},
           {"qemu -name 'unterminated", "x:1: a ' quote that does not end"},
           {"qemu -m 4G \\", "x:1: a backslash at the end of the file"},
           {"", "x: no command line in it"},
       }) {
    Result<VmConfig> r = parse_qemu_command_file(c.text, "x");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.error().message.find(c.expect), std::string::npos)
        << c.text << " -> " << r.error().message;
  }
}

TEST(QemuArgs, HostileBytesAreQuotedNotEchoed) {
  std::string evil = "qemu -\x1b[31mred\n";
  Result<VmConfig> r = parse_qemu_command_file(evil, "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find('\x1b'), std::string::npos);
  // A huge word is cut in the message.
  std::string big = "qemu -" + std::string(100000, 'a');
  r = parse_qemu_command_file(big, "x");
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.error().message.size(), 300u);
}

TEST(QemuSplit, QuotesEscapesAndContinuations) {
  auto w = split_qemu_command("a 'b c' \"d \\\"e\\\"\" f\\ g \\\nh # comment\ni", "x").value();
  ASSERT_EQ(w.size(), 6u);
  EXPECT_EQ(w[1].text, "b c");
  EXPECT_EQ(w[2].text, "d \"e\"");
  EXPECT_EQ(w[3].text, "f g");
  EXPECT_EQ(w[4].text, "h");
  EXPECT_EQ(w[4].line, 2u);
  EXPECT_EQ(w[5].text, "i");
  EXPECT_EQ(w[5].line, 3u);
}

}  // namespace
}  // namespace iovamap
