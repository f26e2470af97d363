// Loading a host once, for every command and every program: where it comes from, the policy,
// declared DMA limits, turned into a Host with everything the model needs.
//
// A host comes from one of three places: the live system ("/"), a snapshot directory (what
// `iovamap snapshot` or `cp -a` captured), or a topology file (a what-if host in TOML). The
// loader reads it (discovery.h or topology.h) with its firmware tables (firmware.h), matches
// the tables' RMRRs and IVMDs to devices as the kernel does (firmware_match.h), keeps what the
// running kernel showed that the model still cannot derive (observed regions, policy.h) with a
// note saying so, and applies the DMA limits the user declared (device_selection.h). Every command
// of the tool, `verify`, and programs using the library start here, so an option means the same
// thing everywhere.
//
// Example:
//   HostSpec spec{.source = HostSource::kSnapshot, .path = "snap", .policy = Policy::kKernel,
//                 .dma_limits = {"01:00.0=36"}};
//   Result<LoadedHost> loaded = load_host(spec);
//   if (!loaded) return loaded.error();          // names the file and line, or the device
//   model_type1(loaded->host, {7}, loaded->policy);
//
// Sharp edges:
//   - A host without IOMMU groups loads fine (`host.groups` is empty); commands decide.
//   - Observed regions are explained on every host read from a kernel (live or snapshot), with
//     one note per group whose regions the model cannot derive.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "iovamap/host.h"
#include "iovamap/policy.h"
#include "iovamap/result.h"
#include "iovamap/sysfs_reader.h"

namespace iovamap {

enum class HostSource : uint8_t {
  kLive,      // this machine's /sys and /proc
  kSnapshot,  // a directory holding sys/ and proc/ as a live host has them
  kTopology,  // a TOML file (docs/topology.md)
};

// Where the host comes from and how to read it.
struct HostSpec {
  HostSource source = HostSource::kLive;
  // kSnapshot: the directory; kTopology: the file; kLive: the root, "/" unless a test says
  // otherwise.
  std::string path = "/";
  Policy policy = Policy::kEffective;
  // Declared DMA limits, "SELECTOR=BITS" as --dma-limit takes them (device_selection.h).
  std::vector<std::string> dma_limits;
  // Whether the PCI host bridges' boot configuration is preserved (ACPI _DSM function 5,
  // which iovamap cannot evaluate), for IORT RMRs (firmware_match.h); unset: what a topology's
  // [firmware] pci-boot-config says, else unknown (each RMR a PCI device would get is a note).
  std::optional<bool> pci_boot_config_preserved;
  // kLive and kSnapshot: read through this reader (not owned) instead of opening `path`; for
  // tests and fuzzers (an in-memory FakeSysfs). `path` still names the host in messages.
  SysfsReader* reader = nullptr;
};

// Something a user should know about the answer, and the group it concerns (none: the host).
struct HostNote {
  std::optional<uint32_t> group_id;
  std::string message;
};

struct LoadedHost {
  Host host;
  Policy policy = Policy::kEffective;
  HostSource source = HostSource::kLive;
  // The directory sys/ and proc/ were read from (live and snapshot hosts), for the layers that
  // read more later (verify); empty for a topology.
  std::string root;
  // Discovery's warnings (no group) and the observed-region notes (their group), in order.
  std::vector<HostNote> notes;

  // The notes about the host and about the given groups, in order.
  std::vector<std::string> notes_for(const std::vector<uint32_t>& group_ids) const;
  // Every note.
  std::vector<std::string> all_notes() const;
};

// Reads the host `spec` names, explains observed regions and applies the declared DMA limits.
// Errors are ErrorKind::kInput (a malformed file, naming file and line; a DMA limit naming no
// device) or kSystem (the root cannot be opened).
Result<LoadedHost> load_host(const HostSpec& spec);

}  // namespace iovamap
