/* libFuzzer target: two YAML documents cut from the input merged by config.load, with
   ${VAR} expansion against a known environment: this one alone (CI's own CI=true made a
   finding of CI's that no other machine had). Properties in config.lua. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!fuzz_L) {
    clearenv();
    setenv("FUZZ_SET", "value", 1);
    setenv("FUZZ_EMPTY", "", 1);
    unsetenv("FUZZ_UNSET");
  }
  return fuzz_run(JOE_ROOT "/spec/fuzz/config.lua", data, size);
}
