/* libFuzzer target: a requirements file and a metrics.yml (lua/cijoe/requirements.lua,
   lua/cijoe/metrics.lua) of arbitrary bytes, checked against each other as joe analyse
   does. Properties in metrics.lua. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_run(JOE_ROOT "/spec/fuzz/metrics.lua", data, size);
}
