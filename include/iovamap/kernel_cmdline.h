// The kernel command line (/proc/cmdline), read the way the kernel reads it.
//
// Two kinds of words matter to the model: module parameters, `module.param=value`, which the
// kernel (for built-in modules) and modprobe (when it loads one) apply to the module; and the
// options of a driver's own boot parameter, `intel_iommu=on,sm_off`, which the driver's setup
// function walks left to right. Discovery reads the first kind (vfio_iommu_type1's
// dma_entry_limit, allow_unsafe_interrupts); each IOMMU driver reads its own options (see
// src/iommu_driver_registry.h). Values are parsed with the kernel's number and boolean rules.
//
// Example:
//   std::string cmdline = "quiet intel_iommu=on,sm_off vfio-iommu-type1.dma_entry_limit=0x400";
//   cmdline_driver_options(cmdline, "intel_iommu");                // {"on", "sm_off"}
//   cmdline_params(cmdline, "vfio_iommu_type1.dma_entry_limit");   // one, value "0x400"
//   parse_kernel_uint("0x400");                                    // 1024
//   parse_kernel_bool("on");                                       // true
//
// Sharp edges:
//   - Every result views the caller's string: keep it alive while using them.
//   - Words are split at spaces, tabs and newlines; the kernel's double quotes
//     (`param="a b"`, lib/cmdline.c next_arg) are not modelled.
//   - Module parameter names compare with dashes and underscores as one character, as the
//     kernel does. Driver boot parameters (`intel_iommu=`) are matched exactly as written,
//     although the kernel compares those with dashes as underscores too (init/main.c,
//     obsolete_checksetup): `intel-iommu=sm_off` is not seen here.
//   - Nothing here warns: callers decide what an ignored word means and say so.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace iovamap {

// The words of a command line, in order, split at spaces, tabs and newlines (empty words
// dropped). "" gives none.
std::vector<std::string_view> cmdline_words(std::string_view cmdline);

// One word that sets a module parameter: `name` alone, or `name=value`.
struct CmdlineParam {
  std::string_view word;                  // the whole word, for messages
  std::optional<std::string_view> value;  // after the first '='; none without one
};

// Every word setting the module parameter `name` ("module.param"), in command-line order: a
// later one overrides an earlier one, as the kernel (kernel/params.c, parse_args) and
// modprobe apply them. Dashes and underscores are the same character in the name
// (kernel/params.c, parameq), so "vfio-iommu-type1.dma-entry-limit=1" sets
// "vfio_iommu_type1.dma_entry_limit".
std::vector<CmdlineParam> cmdline_params(std::string_view cmdline, std::string_view name);

// The comma-separated options of every `name=opt,opt,...` word, in command-line order and, in
// a word, left to right: the order in which a driver's setup function applies them, so a later
// option overrides an earlier one (drivers/iommu/intel/iommu.c intel_iommu_setup,
// drivers/iommu/amd/init.c parse_amd_iommu_options). `name` is the boot parameter without
// '=' ("intel_iommu"), matched exactly; a bare `name` word has no options.
std::vector<std::string_view> cmdline_driver_options(std::string_view cmdline,
                                                     std::string_view name);

// An unsigned int parameter as the kernel parses it (lib/kstrtox.c, kstrtouint with base 0):
// an optional '+', then "0x"/"0X" and hex digits, or a leading '0' and octal digits, or
// decimal digits; the whole text, and a value that fits 32 bits. nullopt when the kernel
// refuses it.
std::optional<uint32_t> parse_kernel_uint(std::string_view text);

// A bool parameter as the kernel parses it (lib/kstrtox.c, kstrtobool): only the first
// character counts, 'y' 't' 'e' '1' (either case) are true, 'n' 'f' 'd' '0' false, and "on" /
// "off" by their second character. nullopt when the kernel refuses it ("", "o", "maybe").
std::optional<bool> parse_kernel_bool(std::string_view text);

}  // namespace iovamap
