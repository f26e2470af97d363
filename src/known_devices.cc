// The table of PCI devices known to address less than 64 bits, and its lookup.
//
// Each family below names the Linux driver and the kernel function that sets the DMA mask.
// The ids come from the driver's own PCI id table, restricted to the generations whose mask
// the id decides. Every fact was read in torvalds/linux; docs/known-devices.md lists the
// commits read and the families left out. The families are written in driver order and sorted
// at compile time.
#include "iovamap/known_devices.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <tuple>
#include <utility>

namespace iovamap {
namespace {

// A set of devices that share a driver, a mask and a citation: either explicit device ids of
// one vendor, or one class match.
struct Family {
  uint16_t vendor;
  std::span<const uint16_t> devices;
  uint32_t class_code;
  uint32_t class_mask;
  unsigned bits;
  std::string_view driver;
  std::string_view citation;
};

constexpr uint16_t kAti = 0x1002;

// ---- GPUs: amdgpu ------------------------------------------------------------------------
// amdgpu_drv.c's pciidlist maps each id to a CHIP_* family; si.c, cik.c and vi.c give those
// families GMC v6, v7 (v7.4 for Topaz) and v8, soc15.c gives Vega and Raven GMC v9.

constexpr std::string_view kAmdgpuGmc6 =
    "drivers/gpu/drm/amd/amdgpu/gmc_v6_0.c: gmc_v6_0_sw_init() calls "
    "dma_set_mask_and_coherent(DMA_BIT_MASK(40)) for SI (Tahiti, Pitcairn, Verde, Oland, "
    "Hainan); radeon_device_init() in drivers/gpu/drm/radeon also uses 40 bits on PCIe";
constexpr std::string_view kAmdgpuGmc7 =
    "drivers/gpu/drm/amd/amdgpu/gmc_v7_0.c: gmc_v7_0_sw_init() calls "
    "dma_set_mask_and_coherent(DMA_BIT_MASK(40)) for CIK (Bonaire, Hawaii, Kaveri, Kabini, "
    "Mullins); radeon_device_init() in drivers/gpu/drm/radeon also uses 40 bits on PCIe";
constexpr std::string_view kAmdgpuGmc8 =
    "drivers/gpu/drm/amd/amdgpu/gmc_v8_0.c: gmc_v8_0_sw_init() calls "
    "dma_set_mask_and_coherent(DMA_BIT_MASK(40)) for VI (Tonga, Fiji, Carrizo, Stoney, "
    "Polaris10/11/12, VegaM); Topaz uses the same code through gmc_v7_4_ip_block";
constexpr std::string_view kAmdgpuGmc9 =
    "drivers/gpu/drm/amd/amdgpu/gmc_v9_0.c: gmc_v9_0_sw_init() calls "
    "dma_set_mask_and_coherent(DMA_BIT_MASK(44)) for Vega10, Vega12, Vega20 and Raven";

constexpr uint16_t kAmdgpuSi[] = {
    // Tahiti
    0x6780, 0x6784, 0x6788, 0x678a, 0x6790, 0x6791, 0x6792, 0x6798, 0x6799, 0x679a, 0x679b, 0x679e,
    0x679f,
    // Pitcairn
    0x6800, 0x6801, 0x6802, 0x6806, 0x6808, 0x6809, 0x6810, 0x6811, 0x6816, 0x6817, 0x6818, 0x6819,
    // Oland
    0x6600, 0x6601, 0x6602, 0x6603, 0x6604, 0x6605, 0x6606, 0x6607, 0x6608, 0x6610, 0x6611, 0x6613,
    0x6617, 0x6620, 0x6621, 0x6623, 0x6631,
    // Verde
    0x6820, 0x6821, 0x6822, 0x6823, 0x6824, 0x6825, 0x6826, 0x6827, 0x6828, 0x6829, 0x682a, 0x682b,
    0x682c, 0x682d, 0x682f, 0x6830, 0x6831, 0x6835, 0x6837, 0x6838, 0x6839, 0x683b, 0x683d, 0x683f,
    // Hainan
    0x6660, 0x6663, 0x6664, 0x6665, 0x6667, 0x666f};

constexpr uint16_t kAmdgpuCik[] = {
    // Kaveri
    0x1304, 0x1305, 0x1306, 0x1307, 0x1309, 0x130a, 0x130b, 0x130c, 0x130d, 0x130e, 0x130f, 0x1310,
    0x1311, 0x1312, 0x1313, 0x1315, 0x1316, 0x1317, 0x1318, 0x131b, 0x131c, 0x131d,
    // Bonaire
    0x6640, 0x6641, 0x6646, 0x6647, 0x6649, 0x6650, 0x6651, 0x6658, 0x665c, 0x665d, 0x665f,
    // Hawaii
    0x67a0, 0x67a1, 0x67a2, 0x67a8, 0x67a9, 0x67aa, 0x67b0, 0x67b1, 0x67b8, 0x67b9, 0x67ba, 0x67be,
    // Kabini
    0x9830, 0x9831, 0x9832, 0x9833, 0x9834, 0x9835, 0x9836, 0x9837, 0x9838, 0x9839, 0x983a, 0x983b,
    0x983c, 0x983d, 0x983e, 0x983f,
    // Mullins
    0x9850, 0x9851, 0x9852, 0x9853, 0x9854, 0x9855, 0x9856, 0x9857, 0x9858, 0x9859, 0x985a, 0x985b,
    0x985c, 0x985d, 0x985e, 0x985f};

constexpr uint16_t kAmdgpuVi[] = {
    // Topaz
    0x6900, 0x6901, 0x6902, 0x6903, 0x6907,
    // Tonga
    0x6920, 0x6921, 0x6928, 0x6929, 0x692b, 0x692f, 0x6930, 0x6938, 0x6939,
    // Fiji
    0x7300, 0x730f,
    // Carrizo
    0x9870, 0x9874, 0x9875, 0x9876, 0x9877,
    // Stoney
    0x98e4,
    // Polaris11
    0x67e0, 0x67e3, 0x67e8, 0x67eb, 0x67ef, 0x67ff, 0x67e1, 0x67e7, 0x67e9,
    // Polaris10
    0x67c0, 0x67c1, 0x67c2, 0x67c4, 0x67c7, 0x67d0, 0x67df, 0x67c8, 0x67c9, 0x67ca, 0x67cc, 0x67cf,
    0x6fdf,
    // Polaris12
    0x6980, 0x6981, 0x6985, 0x6986, 0x6987, 0x6995, 0x6997, 0x699f,
    // VegaM
    0x694c, 0x694e, 0x694f};

constexpr uint16_t kAmdgpuGfx9[] = {
    // Vega10
    0x6860, 0x6861, 0x6862, 0x6863, 0x6864, 0x6867, 0x6868, 0x6869, 0x686a, 0x686b, 0x686c, 0x686d,
    0x686e, 0x686f, 0x687f,
    // Vega12
    0x69a0, 0x69a1, 0x69a2, 0x69a3, 0x69af,
    // Vega20
    0x66a0, 0x66a1, 0x66a2, 0x66a3, 0x66a4, 0x66a7, 0x66af,
    // Raven
    0x15dd, 0x15d8};

// ---- GPUs: i915 --------------------------------------------------------------------------
// i915_pci.c's pciidlist maps the ids of include/drm/i915_pciids.h to platforms;
// intel_ggtt.c's ggtt_probe_hw() sends gen6 and gen7 to gen6_gmch_probe() and gen8 and later
// to gen8_gmch_probe().

constexpr std::string_view kI915Gen6 =
    "drivers/gpu/drm/i915/gt/intel_ggtt.c: gen6_gmch_probe() sets DMA_BIT_MASK(40) for gen6 "
    "and gen7 (Sandy Bridge, Ivy Bridge, Haswell, Valleyview)";
constexpr std::string_view kI915Gen8 =
    "drivers/gpu/drm/i915/gt/intel_ggtt.c: gen8_gmch_probe() sets DMA_BIT_MASK(39) for gen8 "
    "and later (Broadwell, Cherryview, Skylake, Broxton, Kaby Lake)";

constexpr uint16_t kI915Gen6Ids[] = {
    // Sandy Bridge
    0x0102, 0x0112, 0x0122, 0x010a, 0x0106, 0x0116, 0x0126,
    // Ivy Bridge
    0x0156, 0x0166, 0x0152, 0x0162, 0x015a, 0x016a,
    // Haswell
    0x0402, 0x0412, 0x0422, 0x040a, 0x041a, 0x042a, 0x040b, 0x041b, 0x042b, 0x040e, 0x041e, 0x042e,
    0x0c02, 0x0c12, 0x0c22, 0x0c0a, 0x0c1a, 0x0c2a, 0x0c0b, 0x0c1b, 0x0c2b, 0x0c0e, 0x0c1e, 0x0c2e,
    0x0a02, 0x0a12, 0x0a22, 0x0a0a, 0x0a1a, 0x0a2a, 0x0a0b, 0x0a1b, 0x0a2b, 0x0d02, 0x0d12, 0x0d22,
    0x0d0a, 0x0d1a, 0x0d2a, 0x0d0b, 0x0d1b, 0x0d2b, 0x0d0e, 0x0d1e, 0x0d2e, 0x0406, 0x0416, 0x0426,
    0x0c06, 0x0c16, 0x0c26, 0x0a06, 0x0a16, 0x0a26, 0x0a0e, 0x0a1e, 0x0a2e, 0x0d06, 0x0d16, 0x0d26,
    // Valleyview
    0x0f30, 0x0f31, 0x0f32, 0x0f33, 0x0157, 0x0155};

constexpr uint16_t kI915Gen8Ids[] = {
    // Broadwell GT1/GT2, GT3
    0x1602, 0x1606, 0x160b, 0x160e, 0x1612, 0x1616, 0x161b, 0x161e, 0x160a, 0x160d, 0x161a, 0x161d,
    0x1622, 0x1626, 0x162b, 0x162e, 0x162a, 0x162d,
    // Cherryview
    0x22b0, 0x22b1, 0x22b2, 0x22b3,
    // Skylake GT1, GT2, GT3, GT4
    0x1906, 0x190e, 0x1902, 0x190b, 0x190a, 0x1916, 0x1921, 0x191e, 0x1912, 0x191b, 0x191a, 0x191d,
    0x1923, 0x1926, 0x1927, 0x192b, 0x192d, 0x1932, 0x193b, 0x193d, 0x192a, 0x193a,
    // Broxton
    0x0a84, 0x1a84, 0x1a85, 0x5a84, 0x5a85,
    // Kaby Lake GT1, GT2, GT3, GT4
    0x5913, 0x5915, 0x5917, 0x5906, 0x590e, 0x5902, 0x5908, 0x590b, 0x590a, 0x5916, 0x5921, 0x591e,
    0x5912, 0x591b, 0x591a, 0x591d, 0x5923, 0x5926, 0x5927, 0x593b};

// ---- Wi-Fi -------------------------------------------------------------------------------

constexpr uint16_t kAth10kPci[] = {0x003c /* QCA988X */, 0x0041 /* QCA6164 */, 0x003e /* QCA6174 */,
                                   0x0040 /* QCA99X0 */, 0x0042 /* QCA9377 */};

constexpr uint16_t kAth9k[] = {0x0023, 0x0024, 0x0027, 0x0029, 0x002a, 0x002b, 0x002c,
                               0x002d, 0x002e, 0x0030, 0x0032, 0x0033, 0x0034};

constexpr uint16_t kMt7615[] = {0x7615};
constexpr uint16_t kMt7921[] = {0x7961};

// ---- Ethernet ----------------------------------------------------------------------------

constexpr uint16_t kB44[] = {0x4401 /* BCM4401 */, 0x4402 /* BCM4401-B0 */,
                             0x170c /* BCM4401-B1 */};

// forcedeth: nv_probe() raises the mask to 39 bits for ids whose pci_tbl entry carries
// DEV_HAS_HIGH_DMA (descriptor format 3); the others keep 32-bit descriptor addresses.
constexpr uint16_t kForcedethHighDma[] = {0x0056, 0x0057,                  // CK804
                                          0x0037, 0x0038,                  // MCP04
                                          0x0268, 0x0269,                  // MCP51
                                          0x0372, 0x0373,                  // MCP55
                                          0x03e5, 0x03e6, 0x03ee, 0x03ef,  // MCP61
                                          0x0450, 0x0451, 0x0452, 0x0453,  // MCP65
                                          0x054c, 0x054d, 0x054e, 0x054f,  // MCP67
                                          0x07dc, 0x07dd, 0x07de, 0x07df,  // MCP73
                                          0x0760, 0x0761, 0x0762, 0x0763,  // MCP77
                                          0x0ab0, 0x0ab1, 0x0ab2, 0x0ab3,  // MCP79
                                          0x0d7d};                         // MCP89
constexpr uint16_t kForcedeth32[] = {0x01c3 /* nForce */,
                                     0x0066 /* nForce2 */,
                                     0x00d6,
                                     0x0086,
                                     0x008c,
                                     0x00e6,
                                     0x00df /* nForce3 */};

// e100_id_table: the Intel 8255x family.
constexpr uint16_t kE100[] = {
    0x1029, 0x1030, 0x1031, 0x1032, 0x1033, 0x1034, 0x1038, 0x1039, 0x103a, 0x103b, 0x103c,
    0x103d, 0x103e, 0x1050, 0x1051, 0x1052, 0x1053, 0x1054, 0x1055, 0x1056, 0x1057, 0x1059,
    0x1064, 0x1065, 0x1066, 0x1067, 0x1068, 0x1069, 0x106a, 0x106b, 0x1091, 0x1092, 0x1093,
    0x1094, 0x1095, 0x10fe, 0x1209, 0x1229, 0x2449, 0x2459, 0x245d, 0x27dc};

constexpr uint16_t kPcnet32Amd[] = {0x2000 /* LANCE */, 0x2001 /* LANCE HomePNA */};
// 1023:2000 is both the Trident 4DWave DX (audio) and a PCnet sold with the wrong vendor id
// (Ethernet); the class tells them apart, as in both drivers' id tables.
constexpr uint16_t kLance[] = {0x2000};

// ---- USB ---------------------------------------------------------------------------------

// xhci_pci_quirks() marks these XHCI_NO_64BIT_SUPPORT.
constexpr uint16_t kAsmediaXhciNo64[] = {0x1242 /* ASM1142 */, 0x2142 /* ASM2142 */};

constexpr uint16_t kClassOnly[] = {kAnyDevice};

// ---- Sound -------------------------------------------------------------------------------

constexpr uint16_t kTrident4dwaveDx[] = {0x2000};
constexpr uint16_t kTrident4dwaveNx[] = {0x2001};
constexpr uint16_t kSis7018[] = {0x7018};
constexpr uint16_t kEs1938[] = {0x1969 /* Solo-1 */};
// maestro3: Allegro-1, Allegro, Maestro3 and its variants. snd_m3_probe() turns away functions
// whose class is not multimedia audio (the modem halves), hence the class match.
constexpr uint16_t kMaestro3[] = {0x1988, 0x1989, 0x1998, 0x1999, 0x199a, 0x199b};
constexpr uint16_t kIce1712[] = {0x1712};
constexpr uint16_t kAls4000[] = {0x4000};
constexpr uint16_t kEmu10k1[] = {0x0002};
constexpr uint16_t kAudigy[] = {0x0004, 0x0008};

constexpr Family kFamilies[] = {
    {kAti, kAmdgpuSi, 0, 0, 40, "amdgpu", kAmdgpuGmc6},
    {kAti, kAmdgpuCik, 0, 0, 40, "amdgpu", kAmdgpuGmc7},
    {kAti, kAmdgpuVi, 0, 0, 40, "amdgpu", kAmdgpuGmc8},
    {kAti, kAmdgpuGfx9, 0, 0, 44, "amdgpu", kAmdgpuGmc9},
    {0x8086, kI915Gen6Ids, 0, 0, 40, "i915", kI915Gen6},
    {0x8086, kI915Gen8Ids, 0, 0, 39, "i915", kI915Gen8},
    {0x168c, kAth10kPci, 0, 0, 32, "ath10k_pci",
     "drivers/net/wireless/ath/ath10k/pci.c: ath10k_pci_claim() sets DMA_BIT_MASK(32), the "
     "target only does 32-bit DMA"},
    {0x168c, kAth9k, 0, 0, 32, "ath9k",
     "drivers/net/wireless/ath/ath9k/pci.c: ath_pci_probe() sets DMA_BIT_MASK(32) for "
     "streaming and coherent DMA"},
    {0x14c3, kMt7615, 0, 0, 32, "mt7615e",
     "drivers/net/wireless/mediatek/mt76/mt7615/pci.c: mt7615_pci_probe() sets "
     "DMA_BIT_MASK(32); the coherent mask stays at the 32-bit default"},
    {0x14c3, kMt7921, 0, 0, 32, "mt7921e",
     "drivers/net/wireless/mediatek/mt76/mt7921/pci.c: mt7921_pci_probe() sets "
     "DMA_BIT_MASK(32); the coherent mask stays at the 32-bit default"},
    {0x14e4, kB44, 0, 0, 30, "b44",
     "drivers/net/ethernet/broadcom/b44.c: b44_init_one() sets DMA_BIT_MASK(30) on the SSB "
     "core's DMA device, the PCI function when the core sits behind PCI (b44_pci_tbl)"},
    {0x10de, kForcedethHighDma, 0, 0, 39, "forcedeth",
     "drivers/net/ethernet/nvidia/forcedeth.c: nv_probe() sets DMA_BIT_MASK(39) for "
     "DEV_HAS_HIGH_DMA ids (unless loaded with dma_64bit=0, which keeps 32)"},
    {0x10de, kForcedeth32, 0, 0, 32, "forcedeth",
     "drivers/net/ethernet/nvidia/forcedeth.c: nv_probe() leaves the 32-bit PCI default for "
     "ids without DEV_HAS_HIGH_DMA; their descriptors hold 32-bit buffer addresses"},
    {0x8086, kE100, 0, 0, 32, "e100",
     "drivers/net/ethernet/intel/e100.c: e100_probe() sets DMA_BIT_MASK(32); the coherent "
     "mask stays at the 32-bit default"},
    {0x1022, kPcnet32Amd, 0, 0, 32, "pcnet32",
     "drivers/net/ethernet/amd/pcnet32.c: pcnet32_probe_pci() sets PCNET32_DMA_MASK "
     "(0xffffffff)"},
    {0x1023, kLance, 0x020000, 0xffff00, 32, "pcnet32",
     "drivers/net/ethernet/amd/pcnet32.c: pcnet32_probe_pci() sets PCNET32_DMA_MASK "
     "(0xffffffff); pcnet32_pci_tbl matches this id only with the Ethernet class"},
    {0x1b21, kAsmediaXhciNo64, 0, 0, 32, "xhci_hcd",
     "drivers/usb/host/xhci-pci.c: xhci_pci_quirks() sets XHCI_NO_64BIT_SUPPORT, so "
     "xhci_gen_setup() in xhci.c ignores the AC64 capability and sets DMA_BIT_MASK(32)"},
    {kAnyVendor, kClassOnly, 0x0c0300, 0xffffff, 32, "uhci_hcd",
     "drivers/usb/core/hcd-pci.c: usb_hcd_pci_probe() sets no mask and the UHCI driver never "
     "raises the 32-bit PCI default; configure_hc() writes the frame list base to the 32-bit "
     "USBFLBASEADD register"},
    {kAnyVendor, kClassOnly, 0x0c0310, 0xffffff, 32, "ohci-pci",
     "drivers/usb/core/hcd-pci.c: usb_hcd_pci_probe() sets no mask and the OHCI driver never "
     "raises the 32-bit PCI default; ohci_run() in ohci-hcd.c writes the HCCA address to a "
     "32-bit register"},
    {0x1023, kTrident4dwaveDx, 0x040100, 0xffff00, 30, "snd_trident",
     "sound/pci/trident/trident_main.c: snd_trident_create() sets DMA_BIT_MASK(30) for "
     "streaming and coherent DMA"},
    {0x1023, kTrident4dwaveNx, 0, 0, 30, "snd_trident",
     "sound/pci/trident/trident_main.c: snd_trident_create() sets DMA_BIT_MASK(30) for "
     "streaming and coherent DMA"},
    {0x1039, kSis7018, 0, 0, 30, "snd_trident",
     "sound/pci/trident/trident_main.c: snd_trident_create() sets DMA_BIT_MASK(30) for "
     "streaming and coherent DMA"},
    {0x125d, kEs1938, 0, 0, 24, "snd_es1938",
     "sound/pci/es1938.c: snd_es1938_create() sets DMA_BIT_MASK(24) for streaming and "
     "coherent DMA"},
    {0x125d, kMaestro3, 0x040100, 0xffff00, 28, "snd_maestro3",
     "sound/pci/maestro3.c: snd_m3_create() sets a 28-bit mask (0x0fffffff) for streaming and "
     "coherent DMA"},
    {0x1412, kIce1712, 0, 0, 28, "snd_ice1712",
     "sound/pci/ice1712/ice1712.c: snd_ice1712_create() sets a 28-bit mask for streaming and "
     "coherent DMA"},
    {0x4005, kAls4000, 0, 0, 24, "snd_als4000",
     "sound/pci/als4000.c: snd_card_als4000_probe() sets DMA_BIT_MASK(24) for streaming and "
     "coherent DMA"},
    {0x1102, kEmu10k1, 0, 0, 31, "snd_emu10k1",
     "sound/pci/emu10k1/emu10k1_main.c: snd_emu10k1_create() sets EMU10K1_DMA_MASK "
     "(0x7fffffff, include/sound/emu10k1.h) for the EMU10K1"},
    {0x1102, kAudigy, 0, 0, 32, "snd_emu10k1",
     "sound/pci/emu10k1/emu10k1_main.c: snd_emu10k1_create() sets AUDIGY_DMA_MASK "
     "(0xffffffff, include/sound/emu10k1.h) for the Audigy chips (emu10k2)"},
};

constexpr size_t entry_count() {
  size_t n = 0;
  for (const Family& family : kFamilies) n += family.devices.size();
  return n;
}

constexpr auto key(const KnownDmaLimit& e) {
  return std::tuple(e.vendor, e.device, e.class_code, e.class_mask);
}

constexpr std::array<KnownDmaLimit, entry_count()> build_table() {
  std::array<KnownDmaLimit, entry_count()> table{};
  size_t i = 0;
  for (const Family& family : kFamilies) {
    for (uint16_t device : family.devices) {
      table[i++] = KnownDmaLimit{family.vendor, device,        family.class_code, family.class_mask,
                                 family.bits,   family.driver, family.citation};
    }
  }
  std::sort(table.begin(), table.end(),
            [](const KnownDmaLimit& a, const KnownDmaLimit& b) { return key(a) < key(b); });
  return table;
}

constexpr std::array<KnownDmaLimit, entry_count()> kTable = build_table();

constexpr bool table_is_strictly_sorted() {
  for (size_t i = 1; i < kTable.size(); ++i) {
    if (!(key(kTable[i - 1]) < key(kTable[i]))) return false;
  }
  return true;
}
static_assert(table_is_strictly_sorted(), "two entries share (vendor, device, class)");

using VendorDevice = std::pair<uint16_t, uint16_t>;

constexpr VendorDevice vendor_device(const KnownDmaLimit& e) {
  return {e.vendor, e.device};
}

// The entries keyed (vendor, device), in table order.
std::span<const KnownDmaLimit> entries_of(uint16_t vendor, uint16_t device) {
  const VendorDevice k{vendor, device};
  auto first =
      std::lower_bound(kTable.begin(), kTable.end(), k,
                       [](const KnownDmaLimit& e, VendorDevice v) { return vendor_device(e) < v; });
  auto last = std::upper_bound(first, kTable.end(), k, [](VendorDevice v, const KnownDmaLimit& e) {
    return v < vendor_device(e);
  });
  return {first, last};
}

// Among `entries`, the one whose class match accepts `class_code` with the most bits in
// class_mask (the first such in table order), or nullptr.
const KnownDmaLimit* best_match(std::span<const KnownDmaLimit> entries, uint32_t class_code) {
  const KnownDmaLimit* best = nullptr;
  for (const KnownDmaLimit& e : entries) {
    if ((class_code & e.class_mask) != e.class_code) continue;
    if (best == nullptr || std::popcount(e.class_mask) > std::popcount(best->class_mask)) {
      best = &e;
    }
  }
  return best;
}

}  // namespace

std::span<const KnownDmaLimit> known_dma_limits() {
  return kTable;
}

const KnownDmaLimit* find_known_dma_limit(uint16_t vendor, uint16_t device, uint32_t class_code) {
  class_code &= 0xffffff;
  if (vendor != kAnyVendor && device != kAnyDevice) {
    if (const KnownDmaLimit* e = best_match(entries_of(vendor, device), class_code)) return e;
  }
  if (vendor != kAnyVendor) {
    if (const KnownDmaLimit* e = best_match(entries_of(vendor, kAnyDevice), class_code)) return e;
  }
  return best_match(entries_of(kAnyVendor, kAnyDevice), class_code);
}

}  // namespace iovamap
