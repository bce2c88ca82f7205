/* libFuzzer target: fio.decode (packages/fio) of arbitrary bytes, as fio's --output file
   may hold anything when fio fails. Properties in fio.lua. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_run(JOE_ROOT "/spec/fuzz/fio.lua", data, size);
}
