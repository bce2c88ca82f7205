/* libFuzzer target: fio.log.parse (packages/fio/log.lua) of arbitrary bytes, and the
   charts (lua/cijoe/chart.lua) of what it returns. Properties in fiolog.lua. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_run(JOE_ROOT "/spec/fuzz/fiolog.lua", data, size);
}
