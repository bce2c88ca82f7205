/* libFuzzer target: toml.load of arbitrary bytes (CIJOE configs), its messages and marks,
   and the value it loads written back as TOML and read again. Properties in toml.lua. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_run(JOE_ROOT "/spec/fuzz/toml.lua", data, size);
}
