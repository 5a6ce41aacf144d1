// IDX reader, raw and gzip (the magic bytes pick the path). Limit: 64 MB payload, so a lying
// header is refused rather than allocated.
#include "deepl/data/idx.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = deepl::fuzz::input_file(data, size, ".idx");
  deepl::data::IdxLimits limits;
  limits.max_bytes = 64 << 20;
  deepl::fuzz::expect_clean_rejection([&] { deepl::data::read_idx(path, limits); });
  return 0;
}
