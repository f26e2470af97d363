// `iovamap vm-check` end to end, on the snapshots of real 6.12 kernels: the typical reports of
// issue 11 (Intel 39-bit IOMMU with a 46-bit CPU and Looking Glass; an AMD guest over 1 TiB
// against the HyperTransport hole; a hotplug region beyond the IOMMU; a vIOMMU wider than the
// host's), each named, classified, fixed in the user's own format, and the fixed VM passing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "run_for_test.h"
#include "test_tree.h"

namespace iovamap {
namespace {

namespace fs = std::filesystem;

std::string write_temp(const std::string& name, const std::string& text) {
  fs::path p =
      fs::temp_directory_path() / ("iovamap-vm-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream(p) << text;
  return p.string();
}

// Intel client: a 39-bit IOMMU (the intel39 snapshot), a 46-bit CPU, -cpu host, OVMF, a GPU
// with a 16 GiB BAR (resizable BAR) and Looking Glass's ivshmem.
const std::vector<std::string> kIntel = {
    "--root",     snapshot("6.12-intel39/root"), "vm-check", "--host-phys-bits",
    "46",         "--host-cpu-vendor",           "intel",    "--bar",
    "00:04.0=16G"};

std::vector<std::string> with(std::vector<std::string> base, std::vector<std::string> more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

constexpr const char* kLookingGlassQemu =
    "qemu-system-x86_64 -enable-kvm -M pc-q35-7.2 -m 16G -cpu host \\\n"
    "  -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \\\n"
    "  -object memory-backend-file,id=lg,mem-path=/dev/shm/looking-glass,size=32M,share=on \\\n"
    "  -device ivshmem-plain,memdev=lg,id=kvmfr \\\n"
    "  -device vfio-pci,host=0000:00:04.0\n";

TEST(VmCheck, IntelLookingGlassAbove39BitsIsFatalAndTheLimitFixesIt) {
  std::string file = write_temp("lg.sh", kLookingGlassQemu);
  CliRun r = run(with(kIntel, {"--qemu", file}));
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("vCPU physical address bits: 46"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PCI window for BARs: 0x380000000000-0x3fffffffffff"), std::string::npos);
  EXPECT_NE(r.out.find("FATAL: ivshmem kvmfr BAR 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("QEMU prints: vfio_dma_map(..., 0x380400000000, 0x2000000, ...) = -22 "
                       "(Invalid argument); then: hardware error"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("warning: 0000:00:04.0 BAR 0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the VM will NOT start (1 fatal, 1 warning)"), std::string::npos) << r.out;
  EXPECT_NE(
      r.out.find("fix (checked: the changed VM passes):\n  -cpu host,host-phys-bits-limit=39"),
      std::string::npos)
      << r.out;

  // The fix, applied as the user would: the VM passes.
  std::string fixed_text = kLookingGlassQemu;
  fixed_text.replace(fixed_text.find("-cpu host"), 9, "-cpu host,host-phys-bits-limit=39");
  CliRun fixed = run(with(kIntel, {"--qemu", write_temp("lg-fixed.sh", fixed_text)}));
  EXPECT_EQ(fixed.status, 0) << fixed.out << fixed.err;
  EXPECT_NE(fixed.out.find("PCI window for BARs: 0x7000000000-0x7fffffffff"), std::string::npos)
      << fixed.out;
  EXPECT_NE(fixed.out.find("verdict: the VM starts; every mapping is accepted"), std::string::npos);
}

TEST(VmCheck, TheSameVmAsLibvirtAndProxmoxGetsItsFixInItsFormat) {
  std::string xml =
      "<domain type='kvm'>\n<memory unit='GiB'>16</memory>\n"
      "<os firmware='efi'><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>\n"
      "<cpu mode='host-passthrough'/>\n<devices>\n"
      "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0' slot='4' "
      "function='0'/></source></hostdev>\n"
      "<shmem name='looking-glass'><model type='ivshmem-plain'/><size unit='M'>32</size></shmem>\n"
      "</devices>\n</domain>\n";
  CliRun r = run(with(kIntel, {"--libvirt", write_temp("lg.xml", xml)}));
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("<maxphysaddr mode='passthrough' limit='39'/>"), std::string::npos) << r.out;
  std::string fixed = xml;
  fixed.replace(fixed.find("<cpu mode='host-passthrough'/>"), 30,
                "<cpu mode='host-passthrough'><maxphysaddr mode='passthrough' limit='39'/></cpu>");
  EXPECT_EQ(run(with(kIntel, {"--libvirt", write_temp("lg-fixed.xml", fixed)})).status, 0);

  std::string conf =
      "bios: ovmf\ncpu: x86-64-v2-AES,phys-bits=46\nhostpci0: 0000:00:04.0,pcie=1\n"
      "ivshmem: size=32,name=looking-glass\nmachine: pc-q35-7.2\nmemory: 16384\n";
  r = run(with(kIntel, {"--proxmox", write_temp("100.conf", conf)}));
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("cpu: x86-64-v2-AES,phys-bits=39"), std::string::npos) << r.out;
  std::string fixed_conf = conf;
  fixed_conf.replace(fixed_conf.find("phys-bits=46"), 12, "phys-bits=39");
  EXPECT_EQ(run(with(kIntel, {"--proxmox", write_temp("100-fixed.conf", fixed_conf)})).status, 0);
}

TEST(VmCheck, AmdGuestOverOneTiBMeetsTheHyperTransportHoleOnOldMachines) {
  std::vector<std::string> amd = {
      "--root", snapshot("6.12-amd/root"), "vm-check", "--host-phys-bits",
      "48",     "--host-cpu-vendor",       "amd",      "--"};
  CliRun r = run(with(amd, {"-M", "pc-q35-7.0", "-m", "1100G", "-cpu", "host", "-device",
                            "vfio-pci,host=00:04.0"}));
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("FATAL: ram-above-4g"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Region ram-above-4g: vfio_dma_map(..., 0x100000000, 0x11280000000, ...) = "
                       "-22 (Invalid argument)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("fix (checked: the changed VM passes):\n  -machine q35"), std::string::npos)
      << r.out;
  CliRun fixed = run(
      with(amd, {"-M", "q35", "-m", "1100G", "-cpu", "host", "-device", "vfio-pci,host=00:04.0"}));
  EXPECT_EQ(fixed.status, 0) << fixed.out << fixed.err;
  EXPECT_NE(fixed.out.find("above 4 GiB moved to 1 TiB"), std::string::npos) << fixed.out;
}

TEST(VmCheck, HotplugRegionBeyondTheIommuIsAWarningWithASmallerMaxmem) {
  std::vector<std::string> base = {"--root",   snapshot("6.12-intel39/root"),
                                   "vm-check", "--host-phys-bits",
                                   "46",       "--host-cpu-vendor",
                                   "intel",    "--",
                                   "-M",       "pc-q35-7.2",
                                   "-cpu",     "Skylake-Client",
                                   "-device",  "vfio-pci,host=00:04.0",
                                   "-m"};
  CliRun r = run(with(base, {"8G,slots=4,maxmem=600G"}));
  EXPECT_EQ(r.status, 1) << r.out << r.err;  // a refusal, though the VM starts
  EXPECT_NE(r.out.find("the VM starts, with warnings (0 fatal, 1 warning)"), std::string::npos);
  EXPECT_NE(r.out.find("warning: hotplug region (DIMMs plugged later)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("-m 8G,slots=4,maxmem=506G"), std::string::npos) << r.out;
  CliRun fixed = run(with(base, {"8G,slots=4,maxmem=506G"}));
  EXPECT_NE(fixed.out.find("verdict: the VM starts; every mapping is accepted"), std::string::npos)
      << fixed.out;
  CliRun over = run(with(base, {"8G,slots=4,maxmem=507G"}));
  EXPECT_NE(over.out.find("warning: hotplug region"), std::string::npos) << over.out;
}

TEST(VmCheck, VIommuWiderThanTheHostsIsFatalFrom91) {
  std::vector<std::string> base = {"--root",   snapshot("6.12-intel39/root"),
                                   "vm-check", "--host-phys-bits",
                                   "46",       "--host-cpu-vendor",
                                   "intel",    "--",
                                   "-M",       "pc-q35-9.2",
                                   "-m",       "4G",
                                   "-device",  "vfio-pci,host=00:04.0",
                                   "-device"};
  CliRun r = run(with(base, {"intel-iommu,intremap=on,caching-mode=on"}));
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("FATAL: intel-iommu aw-bits 48 > host aw-bits 39"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("-device intel-iommu,aw-bits=39"), std::string::npos) << r.out;
  EXPECT_EQ(run(with(base, {"intel-iommu,aw-bits=39,caching-mode=on"})).status, 0);
}

TEST(VmCheck, JsonCarriesVerdictsAndTheFix) {
  std::string file = write_temp("lg-json.sh", kLookingGlassQemu);
  std::vector<std::string> args = {"--format", "json"};
  for (const std::string& a : kIntel) args.push_back(a);
  args.push_back("--qemu");
  args.push_back(file);
  CliRun r = run(args);
  EXPECT_EQ(r.status, 1) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["command"], "vm-check");
  EXPECT_EQ(j["phys_bits"]["bits"], 46);
  EXPECT_EQ(j["layout"]["pci_window"]["first"], "0x380000000000");
  EXPECT_FALSE(j["starts"]);
  EXPECT_TRUE(j["fix"]["verified"]);
  bool fatal_ivshmem = false;
  for (const auto& m : j["mappings"])
    if (m["kind"] == "RAM-backed BAR" && !m["ok"] && m["fatal"]) fatal_ivshmem = true;
  EXPECT_TRUE(fatal_ivshmem);
}

// A snapshot of a host with /proc/cpuinfo and the GPU's resource file: `iovamap snapshot`
// captures both, and vm-check takes the CPU's 46 bits and the 16 GiB BAR from the capture,
// without --host-phys-bits or --bar, to the same verdict as kIntel declares.
TEST(VmCheck, ReadsTheHostCpuAndBarsFromASnapshot) {
  TempDir tmp;
  fs::path host = tmp.path() / "host";
  fs::copy(snapshot("6.12-intel39/root"), host,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  std::ofstream(host / "proc/cpuinfo")
      << "vendor_id\t: GenuineIntel\naddress sizes\t: 46 bits physical, 48 bits virtual\n";
  std::ofstream(host / "sys/devices/pci0000:00/0000:00:04.0/resource")
      << "0x0000004000000000 0x00000043ffffffff 0x000000000014220c\n";
  std::string snap = (tmp.path() / "snap").string();
  CliRun captured = run({"--root", host.string(), "snapshot", snap});
  ASSERT_EQ(captured.status, 0) << captured.err;

  CliRun r =
      run({"--root", snap, "vm-check", "--qemu", write_temp("lg-snap.sh", kLookingGlassQemu)});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("vCPU physical address bits: 46"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FATAL: ivshmem kvmfr BAR 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("warning: 0000:00:04.0 BAR 0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("-cpu host,host-phys-bits-limit=39"), std::string::npos) << r.out;
}

TEST(VmCheck, BadVmFilesExit2WithFileAndLine) {
  CliRun r = run(with(kIntel, {"--qemu", write_temp("bad.sh", "qemu -m 4G \\\n  -nosuch x\n")}));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("bad.sh:2: argument 3 '-nosuch': not a QEMU option"), std::string::npos)
      << r.err;
  r = run(with(kIntel, {"--libvirt", write_temp("net.xml", "<network>\n</network>\n")}));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("net.xml:1: <'network'>: not a libvirt domain"), std::string::npos) << r.err;
  r = run(with(kIntel, {"--proxmox", write_temp("big.conf", "memory: 99999999999999999999\n")}));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("big.conf:1:"), std::string::npos) << r.err;
  r = run(with(kIntel, {"--", "-m", "17179869184G", "-device", "vfio-pci,host=00:04.0"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("above 2^64-1"), std::string::npos) << r.err;
  r = run(with(kIntel, {"--", "-m", "4G"}));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("assigns no vfio-pci device"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace iovamap
