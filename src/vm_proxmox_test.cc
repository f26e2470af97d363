// Reading a VM from a Proxmox VE configuration (vm_proxmox.h).
#include "iovamap/vm_proxmox.h"

#include <gtest/gtest.h>

namespace iovamap {
namespace {

TEST(Proxmox, ReadsQmConfig) {
  const char* conf =
      "#Gaming VM\n"
      "agent: 1\n"
      "bios: ovmf\n"
      "boot: order=scsi0\n"
      "cores: 8\n"
      "cpu: host,hidden=1,phys-bits=39\n"
      "efidisk0: local-lvm:vm-100-disk-0,efitype=4m,size=4M\n"
      "hostpci0: 0000:01:00,pcie=1,x-vga=1\n"
      "hostpci1: 02:00.0;02:00.1,pcie=1\n"
      "ivshmem: size=64,name=looking-glass\n"
      "machine: pc-q35-8.1+pve0,viommu=intel\n"
      "memory: 32768\n"
      "args: -fw_cfg name=opt/ovmf/X-PciMmio64Mb,string=262144\n"
      "\n"
      "[before-upgrade]\n"
      "memory: 4\n"
      "hostpci2: 03:00.0\n";
  VmConfig vm = parse_proxmox_config(conf, "100.conf").value();
  EXPECT_EQ(vm.format, VmFormat::kProxmox);
  EXPECT_EQ(vm.firmware, GuestFirmware::kOvmf);
  EXPECT_EQ(vm.firmware_line, 3u);
  EXPECT_EQ(vm.cpu.model, "host");
  EXPECT_EQ(vm.cpu.phys_bits, 39u);
  EXPECT_EQ(vm.cpu.line, 6u);
  ASSERT_EQ(vm.host_devices.size(), 3u);
  EXPECT_EQ(vm.host_devices[0].address, "0000:01:00");
  EXPECT_EQ(vm.host_devices[1].address, "02:00.0");
  EXPECT_EQ(vm.host_devices[2].address, "02:00.1");
  EXPECT_EQ(vm.host_devices[2].line, 9u);
  ASSERT_EQ(vm.ram_bars.size(), 1u);
  EXPECT_EQ(vm.ram_bars[0].size, 64 * kMiB);
  EXPECT_EQ(vm.machine.major, 8);
  ASSERT_TRUE(vm.viommu);
  EXPECT_EQ(vm.viommu->model, "intel-iommu");
  EXPECT_EQ(vm.ram_size, 32 * kGiB);  // the snapshot section is not read
  EXPECT_EQ(vm.ovmf_mmio64_mb, 262144u);
}

TEST(Proxmox, MemoryHotplugStartsWithOneGiBAndDimms) {
  VmConfig vm = parse_proxmox_config(
                    "hotplug: memory,disk,network,usb\nmemory: current=8192,max=65536\n"
                    "numa: 1\nhostpci0: 01:00.0\n",
                    "h.conf")
                    .value();
  EXPECT_EQ(vm.ram_size, kGiB);
  EXPECT_EQ(vm.maxmem, 64 * kGiB);
  EXPECT_EQ(vm.slots, 255u);
  ASSERT_EQ(vm.dimms.size(), 1u);
  EXPECT_EQ(vm.dimms[0].size, 7 * kGiB);
  EXPECT_EQ(vm.cpu.model, "x86-64-v2-AES");  // qemu-server's default since PVE 8
}

TEST(Proxmox, BadLinesNameFileAndLine) {
  struct Case {
    const char* text;
    const char* expect;
  };
  for (const Case& c : std::vector<Case>{
           {"memory: 1024\nthis is not a setting\n", "p.conf:2: 'this is not a setting': not"},
           {"memory: 99999999999999999999\n", "p.conf:1: '99999999999999999999' MiB: above"},
           {"memory: 17592186044416\n", "p.conf:1: '17592186044416' MiB: above 2^64-1"},
           {"memory: lots\n", "p.conf:1: expected a number of MiB"},
           {"machine: virt\n", "p.conf:1: machine 'virt'"},
           {"bios: coreboot\n", "p.conf:1: bios 'coreboot'"},
           {"cpu: host,phys-bits=99\n", "p.conf:1: phys-bits: expected 8 to 64"},
           {"hostpci0: mapping=gpu,pcie=1\n", "p.conf:1: mapping='gpu': a cluster resource"},
           {"ivshmem: name=lg\n", "p.conf:1: ivshmem without size="},
           {"args: -bogus\n", "p.conf:1: argument 0 '-bogus': not a QEMU option"},
       }) {
    Result<VmConfig> r = parse_proxmox_config(c.text, "p.conf");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.error().message.find(c.expect), std::string::npos)
        << c.text << " -> " << r.error().message;
  }
}

}  // namespace
}  // namespace iovamap
