/* libFuzzer target: cijoe.ssh_config.resolve of arbitrary bytes as an ssh_config file,
   and parse_jump of its lines. Properties in ssh_config.lua. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_run(JOE_ROOT "/spec/fuzz/ssh_config.lua", data, size);
}
