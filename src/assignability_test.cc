// Assignability: each refusal rule on hosts built from topology files, per kernel release and
// IOMMU driver, and that the container models refuse with the same errno (assignability.h).
#include "iovamap/assignability.h"

#include <gtest/gtest.h>

#include "iovamap/mapping_check.h"
#include "iovamap/topology.h"

namespace iovamap {
namespace {

// One group 3 with one device behind an IOMMU of `driver`, on `kernel`; `device` is the rest
// of the device's table (driver, regions, class).
Host host_with(const std::string& kernel, const std::string& driver, const std::string& device) {
  std::string text =
      "kernel = \"" + kernel + "\"\nmsi-isolated = true\n[[iommu]]\nname = \"u\"\n" +
      "driver = \"" + driver + "\"\naddress-bits = 48\n" +
      "[[group]]\nid = 3\niommu = \"u\"\n[[group.device]]\nbdf = \"0000:00:14.0\"\n" + device;
  Result<Host> host = parse_topology(text, "t.toml");
  EXPECT_TRUE(host.ok()) << (host.ok() ? "" : host.error().message);
  return host.ok() ? *host : Host{};
}

const std::string kDirect =
    "regions = [ { first = \"0x7b000000\", last = \"0x7b0fffff\", type = \"direct\", "
    "source = \"DMAR RMRR 2\" } ]\n";
const std::string kRelaxable =
    "regions = [ { first = \"0x7b000000\", last = \"0x7b0fffff\", type = \"direct-relaxable\", "
    "source = \"DMAR RMRR 1\" } ]\n";

std::vector<AssignRule> blocking_rules(const Host& host, ContainerRules rules) {
  Result<AssignReport> r = assess_assignment(host, {3}, rules);
  EXPECT_TRUE(r.ok());
  std::vector<AssignRule> out;
  if (r.ok())
    for (const AssignFinding& f : r->findings)
      if (f.blocks) out.push_back(f.rule);
  return out;
}

TEST(Assignability, ADirectRegionRefusesEveryIommuFrom66WithEinval) {
  for (const char* driver : {"intel", "amd", "arm-smmu-v3", "virtio"}) {
    Host host = host_with("6.12", driver, kDirect);
    for (ContainerRules rules : {ContainerRules::kType1, ContainerRules::kIommufd}) {
      EXPECT_EQ(blocking_rules(host, rules), std::vector{AssignRule::kFirmwareDirect}) << driver;
      Result<ContainerReport> c = describe_container(host, {3}, Policy::kEffective, rules);
      ASSERT_TRUE(c.ok());
      ASSERT_TRUE(c->refusal.has_value()) << driver;
      EXPECT_EQ(c->refusal->code, EINVAL);
      EXPECT_EQ(c->refusal->kind, ErrorKind::kRefused);
      EXPECT_NE(c->refusal->message.find("DMAR RMRR 2"), std::string::npos) << c->refusal->message;
      EXPECT_TRUE(c->usable.empty());
    }
    // check and info-cap go through the same models.
    Result<MappingChecker> checker = MappingChecker::create(host, {3}, Policy::kKernel);
    ASSERT_FALSE(checker.ok());
    EXPECT_EQ(checker.error().code, EINVAL);
  }
}

TEST(Assignability, BeforeSixSixOnlyIntelRefusesADirectRegionWithEperm) {
  Host intel = host_with("6.1", "intel", kDirect);
  EXPECT_EQ(blocking_rules(intel, ContainerRules::kType1), std::vector{AssignRule::kRmrrLocked});
  Result<Type1Model> m = model_type1(intel, {3}, Policy::kKernel);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, EPERM);
  for (const char* driver : {"amd", "arm-smmu-v3"}) {
    Host host = host_with("6.5", driver, kDirect);
    EXPECT_TRUE(blocking_rules(host, ContainerRules::kType1).empty()) << driver;
    EXPECT_TRUE(model_type1(host, {3}, Policy::kKernel).ok()) << driver;
  }
}

TEST(Assignability, RelaxableRegionsAreTaken) {
  // The Intel driver relaxes the RMRRs of USB controllers and graphics devices only (the model
  // re-types the firmware's region by the device's class, as device_rmrr_is_relaxable does).
  for (const char* kernel : {"6.1", "6.12"}) {
    Host host = host_with(kernel, "intel", kRelaxable + "class = \"0x0c0330\"\n");
    EXPECT_TRUE(blocking_rules(host, ContainerRules::kType1).empty()) << kernel;
    EXPECT_TRUE(model_type1(host, {3}, Policy::kKernel).ok()) << kernel;
  }
}

TEST(Assignability, AHostDriverIsAStepNotARefusal) {
  // Drivers that manage their own DMA, or none, need nothing.
  for (const char* driver : {"vfio-pci", "mlx5_vfio_pci", "pci-stub", "pcieport"}) {
    Host host = host_with("6.12", "intel", std::string("driver = \"") + driver + "\"\n");
    Result<AssignReport> r = assess_assignment(host, {3}, ContainerRules::kType1);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->findings.empty()) << driver;
  }
  Host host = host_with("6.12", "intel", "driver = \"e1000e\"\n");
  for (ContainerRules rules : {ContainerRules::kType1, ContainerRules::kIommufd}) {
    Result<AssignReport> r = assess_assignment(host, {3}, rules);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->findings.size(), 1u);
    const AssignFinding& f = r->findings[0];
    EXPECT_EQ(f.rule, AssignRule::kHostDriver);
    EXPECT_FALSE(f.blocks);
    EXPECT_EQ(f.error_number, EPERM);
    EXPECT_EQ(f.device, "0000:00:14.0");
    EXPECT_NE(f.fix.find("driver_override"), std::string::npos) << f.fix;
    EXPECT_TRUE(r->accepted());
  }
  // Before the DMA-ownership API (5.19), VFIO's list: bridges were viable whatever their driver.
  Host old_bridge = host_with("5.15", "intel", "driver = \"shpchp\"\nclass = \"0x060400\"\n");
  EXPECT_TRUE(assess_assignment(old_bridge, {3}, ContainerRules::kType1)->findings.empty());
  Host new_bridge = host_with("6.1", "intel", "driver = \"shpchp\"\nclass = \"0x060400\"\n");
  EXPECT_EQ(assess_assignment(new_bridge, {3}, ContainerRules::kType1)->findings.size(), 1u);
}

TEST(Assignability, MsiIsolationAndUnsafeInterruptsPerModule) {
  Host host = host_with("6.12", "intel", "");
  host.msi = MsiEvidence{false, "irq/9: 'IO-APIC'"};
  EXPECT_EQ(blocking_rules(host, ContainerRules::kType1), std::vector{AssignRule::kMsiNotIsolated});
  host.type1_allow_unsafe_interrupts = true;
  EXPECT_TRUE(blocking_rules(host, ContainerRules::kType1).empty());
  EXPECT_EQ(blocking_rules(host, ContainerRules::kIommufd),
            std::vector{AssignRule::kMsiNotIsolated});
  // iommufd checks MSI isolation when the device is bound, before it claims the DMA: with both
  // problems its first finding (and the model's errno) is the MSI one.
  Host both = host_with("6.12", "intel", kDirect);
  both.msi = MsiEvidence{false, "irq/9: 'IO-APIC'"};
  EXPECT_EQ(blocking_rules(both, ContainerRules::kIommufd),
            (std::vector{AssignRule::kMsiNotIsolated, AssignRule::kFirmwareDirect}));
  EXPECT_EQ(model_iommufd(both, {3}, Policy::kKernel).error().code, EPERM);
  EXPECT_EQ(blocking_rules(both, ContainerRules::kType1),
            (std::vector{AssignRule::kFirmwareDirect, AssignRule::kMsiNotIsolated}));
  EXPECT_EQ(model_type1(both, {3}, Policy::kKernel).error().code, EINVAL);
}

TEST(Assignability, IommufdNeedsSixTwo) {
  Host host = host_with("6.1", "intel", "");
  EXPECT_EQ(blocking_rules(host, ContainerRules::kIommufd), std::vector{AssignRule::kNoIommufd});
  EXPECT_TRUE(blocking_rules(host, ContainerRules::kType1).empty());
  EXPECT_TRUE(blocking_rules(host_with("6.2", "intel", ""), ContainerRules::kIommufd).empty());
}

TEST(Assignability, NoSuchGroupIsBadInput) {
  Host host = host_with("6.12", "intel", "");
  Result<AssignReport> r = assess_assignment(host, {9}, ContainerRules::kType1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ENOENT);
  EXPECT_EQ(r.error().kind, ErrorKind::kInput);
}

}  // namespace
}  // namespace iovamap
