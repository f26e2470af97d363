// Reading a VM from libvirt domain XML (vm_libvirt.h), hostile inputs included.
#include "iovamap/vm_libvirt.h"

#include <gtest/gtest.h>

#include <string>

namespace iovamap {
namespace {

constexpr const char* kWin11 =
    R"(<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>win11</name>
  <memory unit='KiB'>16777216</memory>
  <currentMemory unit='KiB'>16777216</currentMemory>
  <os firmware='efi'>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
  </os>
  <cpu mode='host-passthrough' check='none' migratable='on'>
    <topology sockets='1' dies='1' cores='8' threads='2'/>
  </cpu>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source>
        <address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
      </source>
    </hostdev>
    <shmem name='looking-glass'>
      <model type='ivshmem-plain'/>
      <size unit='M'>32</size>
    </shmem>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-fw_cfg'/>
    <qemu:arg value='name=opt/ovmf/X-PciMmio64Mb,string=65536'/>
  </qemu:commandline>
</domain>
)";

#ifdef IOVAMAP_HAVE_LIBXML2

TEST(Libvirt, ReadsAVirshDumpxml) {
  VmConfig vm = parse_libvirt_domain(kWin11, "win11.xml").value();
  EXPECT_EQ(vm.format, VmFormat::kLibvirt);
  EXPECT_EQ(vm.ram_size, 16 * kGiB);
  EXPECT_EQ(vm.ram_line, 3u);
  EXPECT_EQ(vm.machine.name, "pc-q35-7.2");
  EXPECT_EQ(vm.machine_line, 6u);
  EXPECT_EQ(vm.firmware, GuestFirmware::kOvmf);
  EXPECT_EQ(vm.cpu.model, "host");
  ASSERT_EQ(vm.host_devices.size(), 1u);
  EXPECT_EQ(vm.host_devices[0].address, "0000:01:00.0");
  EXPECT_EQ(vm.host_devices[0].line, 12u);
  ASSERT_EQ(vm.ram_bars.size(), 1u);
  EXPECT_EQ(vm.ram_bars[0].size, 32 * kMiB);
  EXPECT_EQ(vm.ovmf_mmio64_mb, 65536u);
}

TEST(Libvirt, MaxphysaddrMaxMemoryDimmsAndIommu) {
  const char* xml = R"(<domain type='kvm'>
  <maxMemory slots='16' unit='GiB'>1024</maxMemory>
  <memory unit='G'>12</memory>
  <cpu mode='host-passthrough'><maxphysaddr mode='passthrough' limit='39'/></cpu>
  <devices>
    <memory model='dimm'><target><size unit='GiB'>4</size><node>0</node></target><address type='dimm' slot='0' base='0x400000000'/></memory>
    <iommu model='intel'><driver aw_bits='48' caching_mode='on'/></iommu>
    <hostdev mode='subsystem' type='pci'><source><address domain='0' bus='2' slot='0' function='0'/></source></hostdev>
  </devices>
</domain>)";
  VmConfig vm = parse_libvirt_domain(xml, "d.xml").value();
  EXPECT_EQ(vm.maxmem, 1024 * kGiB);
  EXPECT_EQ(vm.slots, 16u);
  EXPECT_EQ(vm.ram_size, 12 * kGiB);
  EXPECT_EQ(vm.cpu.host_phys_bits, true);
  EXPECT_EQ(vm.cpu.host_phys_bits_limit, 39u);
  ASSERT_EQ(vm.dimms.size(), 1u);
  EXPECT_EQ(vm.dimms[0].size, 4 * kGiB);
  EXPECT_EQ(vm.dimms[0].addr, 16 * kGiB);
  ASSERT_TRUE(vm.viommu);
  EXPECT_EQ(vm.viommu->model, "intel-iommu");
  EXPECT_EQ(vm.viommu->aw_bits, 48u);
  EXPECT_EQ(vm.host_devices.at(0).address, "0000:02:00.0");
  EXPECT_EQ(vm.firmware, GuestFirmware::kSeabios);
  EXPECT_EQ(vm.machine.family, MachineFamily::kI440fx);  // no machine: QEMU's default
}

TEST(Libvirt, NotADomainIsRefusedWithItsLine) {
  Result<VmConfig> r = parse_libvirt_domain("<?xml version='1.0'?>\n\n<network/>\n", "n.xml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kInput);
  EXPECT_EQ(r.error().message,
            "n.xml:3: <'network'>: not a libvirt domain (virsh dumpxml writes <domain "
            "type='kvm'>)");
}

TEST(Libvirt, BadXmlAndBadValuesNameFileAndLine) {
  struct Case {
    const char* xml;
    const char* expect;
  };
  for (const Case& c : std::vector<Case>{
           {"<domain>\n<memory>1\n</domain>", "b.xml:3: not XML: "},
           {"", "b.xml:1: not XML"},
           {"not xml at all", "b.xml:1: not XML"},
           {"<domain>\n<memory unit='EiB'>16</memory></domain>",
            "b.xml:2: <memory>: '16' eib: above 2^64-1 bytes"},
           {"<domain>\n<memory unit='KiB'>18446744073709551616</memory></domain>",
            "b.xml:2: <memory>: '18446744073709551616' kib: above 2^64-1 bytes"},
           {"<domain>\n<memory unit='parsec'>1</memory></domain>",
            "b.xml:2: <memory>: unknown unit 'parsec'"},
           {"<domain>\n<os><type machine='virt'>hvm</type></os></domain>",
            "b.xml:2: <type>: machine 'virt'"},
           {"<domain><devices>\n<hostdev type='pci'><source><address bus='0x100'/></source>"
            "</hostdev></devices></domain>",
            "b.xml:2: <address>: bus='0x100'"},
           {"<domain><cpu>\n<maxphysaddr mode='emulate' bits='nine'/></cpu></domain>",
            "b.xml:2: <maxphysaddr>: bits='nine'"},
       }) {
    Result<VmConfig> r = parse_libvirt_domain(c.xml, "b.xml");
    ASSERT_FALSE(r.ok()) << c.xml;
    EXPECT_NE(r.error().message.find(c.expect), std::string::npos)
        << c.xml << " -> " << r.error().message;
  }
}

TEST(Libvirt, EntityBombsAndExternalEntitiesAreRefused) {
  std::string bomb =
      "<?xml version='1.0'?>\n<!DOCTYPE domain [\n<!ENTITY a 'aaaaaaaaaa'>\n"
      "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>\n<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;'>\n"
      "]>\n<domain><name>&c;</name></domain>\n";
  Result<VmConfig> r = parse_libvirt_domain(bomb, "bomb.xml");
  ASSERT_FALSE(r.ok());
  // Refused by libxml2's own amplification guard or by the DOCTYPE rule, with the file.
  EXPECT_EQ(r.error().message.rfind("bomb.xml:", 0), 0u) << r.error().message;
  r = parse_libvirt_domain("<!DOCTYPE domain>\n<domain/>\n", "dt.xml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("<!DOCTYPE>"), std::string::npos) << r.error().message;
  std::string xxe =
      "<!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>\n<domain>&x;</domain>";
  r = parse_libvirt_domain(xxe, "xxe.xml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find("root:"), std::string::npos);
}

#else

TEST(Libvirt, WithoutLibxml2EveryCallSaysSo) {
  EXPECT_EQ(parse_libvirt_domain(kWin11, "w.xml").error().code, ENOTSUP);
}

#endif

TEST(LibvirtSize, UnitsOfLibvirt) {
  EXPECT_EQ(*parse_libvirt_size("16777216", "", "KiB"), 16 * kGiB);
  EXPECT_EQ(*parse_libvirt_size("1", "GB", "KiB"), 1000000000u);
  EXPECT_EQ(*parse_libvirt_size("32", "M", "b"), 32 * kMiB);
  EXPECT_EQ(*parse_libvirt_size("4096", "", "b"), 4096u);
  EXPECT_EQ(parse_libvirt_size("16", "EiB", "b").error().code, ERANGE);
  EXPECT_EQ(parse_libvirt_size("-1", "", "b").error().code, EINVAL);
  EXPECT_EQ(parse_libvirt_size("1x", "", "b").error().code, EINVAL);
}

}  // namespace
}  // namespace iovamap
