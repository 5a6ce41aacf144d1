// PyTorch state-dict files (zip and legacy formats) through the restricted unpickler.
#include "deepl/io/pytorch_file.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  deepl::fuzz::expect_clean_rejection([&] { deepl::io::read_state_dict_bytes(bytes, "fuzz.pth"); });
  return 0;
}
