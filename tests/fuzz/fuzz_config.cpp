// Experiment config: JSON parsing, schema validation, model resolution, consistency checks.
#include "deepl/config/config.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = deepl::fuzz::input_file(data, size, ".json");
  deepl::fuzz::expect_clean_rejection([&] { deepl::config::load_experiment(path); });
  return 0;
}
