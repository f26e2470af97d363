// The driver registry, entry by entry: what iommu_driver_registry.h promises of every driver
// (a unique name, detection of its own units in registry order, documented and unique keys
// that a topology declares and the command line sets, traits that agree with its answers), and
// docs/topology.md's table of driver keys, which must be the registry's. A new driver gets all
// of this checked by adding its registry entry.
#include "iommu_driver_registry.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "iovamap/topology.h"

namespace iovamap::detail {
namespace {

// The [[iommu]] keys every unit takes, whatever its driver (src/topology.cc).
const std::set<std::string, std::less<>> kCommonKeys = {"name", "driver", "address-bits",
                                                        "aperture", "page-sizes"};

TEST(DriverRegistry, NamesAreUniqueAndFoundAndGenericIsLast) {
  std::set<std::string_view> names;
  ASSERT_GE(iommu_drivers().size(), 6u);
  for (const IommuDriverModel* d : iommu_drivers()) {
    SCOPED_TRACE(d->name());
    EXPECT_FALSE(d->name().empty());
    EXPECT_TRUE(names.insert(d->name()).second) << "name used twice";
    EXPECT_EQ(find_driver(d->name()), d);
    EXPECT_EQ(driver_name(d->name()), d->name());
    EXPECT_EQ(parse_driver_name(d->name()).value(), d->name());
    EXPECT_EQ(&driver_of(IommuUnit{.name = "u", .driver = std::string(d->name())}), d);
  }
  // The spellings topology files and JSON output have always used.
  EXPECT_EQ(names, (std::set<std::string_view>{"intel", "amd", "arm-smmu-v3", "arm-smmu", "virtio",
                                               "generic"}));
  EXPECT_EQ(iommu_drivers().back()->name(), "generic");
  EXPECT_EQ(find_driver("Intel"), nullptr);
  EXPECT_EQ(driver_name("intell"), "generic");
  EXPECT_EQ(&driver_of(IommuUnit{.driver = "intell"}), find_driver("generic"));
  Result<std::string> bad = parse_driver_name("intell");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "unknown IOMMU driver 'intell' (intel, amd, arm-smmu-v3, arm-smmu, virtio, generic)");
}

TEST(DriverRegistry, EachDriverDetectsItsOwnExampleFirst) {
  const auto drivers = iommu_drivers();
  for (size_t i = 0; i < drivers.size(); ++i) {
    const UnitDirectory example = drivers[i]->example_directory();
    SCOPED_TRACE(std::string(drivers[i]->name()) + " example " + example.name);
    EXPECT_TRUE(std::is_sorted(example.entries.begin(), example.entries.end()));
    EXPECT_TRUE(drivers[i]->detects(example));
    EXPECT_EQ(&detect_driver(example), drivers[i]);
    for (size_t j = 0; j < i; ++j)
      EXPECT_FALSE(drivers[j]->detects(example)) << drivers[j]->name() << " takes it first";
  }
  // Only the generic driver takes a unit that shows nothing of a driver.
  for (const IommuDriverModel* d : drivers) {
    const UnitDirectory plain{.name = "iommu7", .canonical = "sys/devices/virtual/iommu/iommu7"};
    EXPECT_EQ(d->detects(plain), d->name() == "generic") << d->name();
  }
}

TEST(DriverRegistry, FactsAreDocumentedAndUnique) {
  // A topology key shared by drivers must mean the same fact in each.
  std::map<std::string_view, const UnitFact*> by_topology_key;
  for (const IommuDriverModel* d : iommu_drivers()) {
    std::set<std::string_view> keys, topology_keys;
    for (const UnitFact& f : d->facts()) {
      SCOPED_TRACE(std::string(d->name()) + " " + std::string(f.key));
      EXPECT_FALSE(f.key.empty());
      EXPECT_FALSE(f.meaning.empty());
      EXPECT_FALSE(f.topology_key.empty());
      EXPECT_EQ(f.topology_key.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-"),
                std::string_view::npos);
      EXPECT_FALSE(kCommonKeys.count(f.topology_key)) << "shadows a key every unit takes";
      EXPECT_TRUE(keys.insert(f.key).second) << "key declared twice";
      EXPECT_TRUE(topology_keys.insert(f.topology_key).second) << "topology key twice";
      // A sysfs file has a parser and a parser a file; a register is what sysfs shows.
      EXPECT_EQ(f.sysfs_file.empty(), f.parse_sysfs == nullptr);
      if (f.store == FactStore::kRegister) {
        EXPECT_FALSE(f.sysfs_file.empty());
      }
      // Command-line options belong to a boot parameter, and a bool takes 0 or 1.
      EXPECT_EQ(f.cmdline_param.empty(), f.cmdline_choices.empty());
      for (const CmdlineChoice& c : f.cmdline_choices) {
        EXPECT_FALSE(c.option.empty());
        if (f.type == FactType::kBool) {
          EXPECT_LE(c.value, 1u);
        }
      }
      if (f.type != FactType::kNumber) {
        EXPECT_EQ(f.max, UINT64_MAX) << "max is for numbers";
      }
      auto [it, fresh] = by_topology_key.emplace(f.topology_key, &f);
      if (!fresh) {
        EXPECT_EQ(it->second->key, f.key);
        EXPECT_EQ(it->second->store, f.store);
        EXPECT_EQ(it->second->type, f.type);
      }
    }
  }
  EXPECT_GE(by_topology_key.size(), 10u);
}

// A value a topology may give `fact`, as TOML, and what it stores.
std::pair<std::string, uint64_t> sample(const UnitFact& fact) {
  switch (fact.type) {
    case FactType::kBool:
      return {"true", 1};
    case FactType::kBits:
      return {"39", 39};
    case FactType::kNumber:
      break;
  }
  return {"\"" + hex(fact.max) + "\"", fact.max};
}

TEST(DriverRegistry, EveryKeyDeclaresItsFactInATopologyAndOnlyForItsDriver) {
  for (const IommuDriverModel* d : iommu_drivers()) {
    for (const UnitFact& f : d->facts()) {
      SCOPED_TRACE(std::string(d->name()) + " " + std::string(f.topology_key));
      auto [value, stored] = sample(f);
      // The key before `driver`: a table's keys come in any order.
      const std::string text = "[[iommu]]\nname = \"u\"\n" + std::string(f.topology_key) + " = " +
                               value + "\ndriver = \"" + std::string(d->name()) + "\"\n";
      Result<Host> h = parse_topology(text, "t.toml");
      ASSERT_TRUE(h) << h.error().message;
      IommuUnit& unit = h->iommus.at(0);
      EXPECT_EQ(fact_store(unit, f).at(std::string(f.key)), stored);
      EXPECT_EQ(unit.registers.size() + unit.settings.size(), 1u);
      if (f.type == FactType::kNumber && f.max < UINT64_MAX) {
        Result<Host> over = parse_topology(
            "[[iommu]]\nname = \"u\"\ndriver = \"" + std::string(d->name()) + "\"\n" +
                std::string(f.topology_key) + " = \"" + hex(f.max + 1) + "\"\n",
            "t.toml");
        ASSERT_FALSE(over);
        EXPECT_NE(over.error().message.find("t.toml:4: '" + std::string(f.topology_key) +
                                            "' is above " + hex(f.max)),
                  std::string::npos)
            << over.error().message;
      }
      // Every driver that does not declare the key refuses it, saying whose it is.
      for (const IommuDriverModel* other : iommu_drivers()) {
        bool declares = false;
        for (const UnitFact& g : other->facts())
          declares = declares || g.topology_key == f.topology_key;
        if (declares) continue;
        Result<Host> wrong =
            parse_topology("[[iommu]]\nname = \"u\"\ndriver = \"" + std::string(other->name()) +
                               "\"\n" + std::string(f.topology_key) + " = " + value + "\n",
                           "t.toml");
        ASSERT_FALSE(wrong) << other->name();
        EXPECT_NE(wrong.error().message.find("t.toml:4: '" + std::string(f.topology_key) +
                                             "' is a key of "),
                  std::string::npos)
            << wrong.error().message;
        EXPECT_NE(wrong.error().message.find("this unit's driver is " + std::string(other->name())),
                  std::string::npos)
            << wrong.error().message;
      }
    }
  }
}

TEST(DriverRegistry, CommandLineChoicesSetTheirFactsLaterWins) {
  int seen = 0;
  for (const IommuDriverModel* d : iommu_drivers()) {
    for (const UnitFact& f : d->facts()) {
      for (const CmdlineChoice& c : f.cmdline_choices) {
        SCOPED_TRACE(std::string(d->name()) + " " + std::string(f.cmdline_param) + "=" +
                     std::string(c.option));
        const std::string word = std::string(f.cmdline_param) + "=" + std::string(c.option);
        IommuUnit unit{.name = "u", .driver = std::string(d->name())};
        d->apply_cmdline("quiet " + word + "\n", &unit);
        EXPECT_EQ(fact_store(unit, f).at(std::string(f.key)), c.value);
        // Every other choice given after it wins; given before it, loses.
        for (const CmdlineChoice& other : f.cmdline_choices) {
          const std::string later = std::string(f.cmdline_param) + "=" + std::string(other.option);
          IommuUnit u2{.name = "u", .driver = std::string(d->name())};
          d->apply_cmdline(word + " " + later, &u2);
          EXPECT_EQ(fact_store(u2, f).at(std::string(f.key)), other.value);
          IommuUnit u3{.name = "u", .driver = std::string(d->name())};
          d->apply_cmdline(std::string(f.cmdline_param) + "=" + std::string(other.option) + "," +
                               std::string(c.option),
                           &u3);
          EXPECT_EQ(fact_store(u3, f).at(std::string(f.key)), c.value);
        }
        ++seen;
      }
    }
    // Options of no fact leave the unit alone.
    IommuUnit unit{.name = "u", .driver = std::string(d->name())};
    d->apply_cmdline("intel_iommu=on,igfx_off amd_iommu=force_isolation iommu=pt", &unit);
    EXPECT_TRUE(unit.registers.empty() && unit.settings.empty()) << d->name();
  }
  EXPECT_GE(seen, 4);
}

TEST(DriverRegistry, TraitsAgreeWithTheAnswers) {
  for (const IommuDriverModel* d : iommu_drivers()) {
    SCOPED_TRACE(d->name());
    const IommuUnit unit{.name = "u", .driver = std::string(d->name())};
    EXPECT_EQ(driver_traits(unit).regions_probed_per_endpoint,
              d->traits().regions_probed_per_endpoint);
    // Without sysfs behind them, the page sizes can only be declared.
    if (!d->traits().page_sizes_from_sysfs) {
      EXPECT_EQ(page_sizes(unit, KernelVersion::newest()).error().code, ENODATA);
      IommuUnit declared = unit;
      declared.page_sizes = 0x1000;
      EXPECT_EQ(*page_sizes(declared, KernelVersion::newest()), 0x1000u);
    }
  }
}

// ---- docs/topology.md ------------------------------------------------------------------------

std::string type_cell(const UnitFact& f) {
  switch (f.type) {
    case FactType::kBool:
      return "bool";
    case FactType::kBits:
      return "1..64";
    case FactType::kNumber:
      break;
  }
  return f.max == UINT64_MAX ? "value" : "value, up to `" + hex(f.max) + "`";
}

std::string source_cell(const UnitFact& f) {
  if (!f.sysfs_file.empty() && f.sysfs_file.front() == '/')
    return "`" + std::string(f.sysfs_file) + "`";
  if (!f.sysfs_file.empty()) return "sysfs `<unit>/" + std::string(f.sysfs_file) + "`";
  if (!f.cmdline_choices.empty()) {
    std::string out;
    for (const CmdlineChoice& c : f.cmdline_choices)
      out += (out.empty() ? "" : ", ") + std::string("`") + std::string(f.cmdline_param) + "=" +
             std::string(c.option) + "`";
    return "command line " + out;
  }
  return "not shown";
}

// The driver-key rows docs/topology.md must hold, one per driver and key, in registry order.
std::vector<std::string> driver_key_rows() {
  std::vector<std::string> rows;
  for (const IommuDriverModel* d : iommu_drivers())
    for (const UnitFact& f : d->facts())
      rows.push_back("| `" + std::string(d->name()) + "` | `" + std::string(f.topology_key) +
                     "` | " + type_cell(f) + " | " + std::string(f.meaning) + " | " +
                     source_cell(f) + " |");
  return rows;
}

TEST(DriverRegistry, TopologyDocListsEveryDriverAndItsKeys) {
  std::ifstream in(std::string(IOVAMAP_SOURCE_DIR) + "/docs/topology.md");
  ASSERT_TRUE(in.good());
  std::vector<std::string> doc_rows;
  bool in_table = false;
  std::string driver_line;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| driver | key |", 0) == 0) {
      in_table = true;
      std::getline(in, line);  // the |---| line
      continue;
    }
    if (in_table && line.rfind("| ", 0) != 0) in_table = false;
    if (in_table) doc_rows.push_back(line);
    if (line.rfind("| `driver` |", 0) == 0 && driver_line.empty()) driver_line = line;
  }
  std::string want;
  for (const std::string& r : driver_key_rows()) want += r + "\n";
  std::string got;
  for (const std::string& r : doc_rows) got += r + "\n";
  EXPECT_EQ(got, want) << "docs/topology.md's driver-key table should read:\n" << want;
  for (const IommuDriverModel* d : iommu_drivers())
    EXPECT_NE(driver_line.find("`" + std::string(d->name()) + "`"), std::string::npos)
        << d->name() << " missing from the `driver` row: " << driver_line;
}

}  // namespace
}  // namespace iovamap::detail
