// libFuzzer target: parse_iort on arbitrary bytes (a hostile /sys/firmware/acpi/tables/IORT).
// It must return a model or EINVAL, never crash, loop or read outside the bytes (ASan); each
// input is parsed as given and again with its checksum made right, so the fuzzer gets past
// the header. Entries it returns must lie inside the table.
#include "fuzz_checks.h"
#include "iovamap/acpi_iort.h"

using namespace iovamap;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz_table<Iort>(data, size, parse_iort, check_iort);
}
