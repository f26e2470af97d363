// libFuzzer target: parse_dmar on arbitrary bytes (a hostile /sys/firmware/acpi/tables/DMAR).
// It must return a model or EINVAL, never crash, loop or read outside the bytes (ASan); each
// input is parsed as given and again with its checksum made right, so the fuzzer gets past
// the header. Entries it returns must lie inside the table.
#include "fuzz_checks.h"
#include "iovamap/acpi_dmar.h"

using namespace iovamap;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz_table<Dmar>(data, size, parse_dmar, check_dmar);
}
