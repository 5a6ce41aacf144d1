// deepl's own checkpoints: the reader and the metadata a resume or evaluation relies on.
#include "deepl/train/checkpoint.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = deepl::fuzz::input_file(data, size, ".pt");
  deepl::fuzz::expect_clean_rejection([&] { deepl::train::read_checkpoint(path); });
  return 0;
}
