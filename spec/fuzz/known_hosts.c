/* libFuzzer target: cijoe.known_hosts reading arbitrary bytes as a known_hosts file.
   Properties in known_hosts.lua. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_run(JOE_ROOT "/spec/fuzz/known_hosts.lua", data, size);
}
