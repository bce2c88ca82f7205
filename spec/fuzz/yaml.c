/* libFuzzer target: yaml.load of arbitrary bytes (configs, task files), and the round
   trip yaml.dump(yaml.load(x)) reloading to an equal value. Properties in yaml.lua. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_run(JOE_ROOT "/spec/fuzz/yaml.lua", data, size);
}
