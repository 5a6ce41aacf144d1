// Image files: the codec on the bytes directly (header and decode), then data::read_image on them
// as a file, to grayscale and to RGB, as `deepl predict` reads a person's pictures.
#include "deepl/data/image.h"
#include "deepl/io/image_codec.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // 1 MP: a few bytes can claim the whole cap (the pixels are allocated before a truncated file
  // runs out), and with LibTorch's ~330 MB a larger cap would reach scripts/fuzz's 512 MB limit.
  deepl::io::ImageLimits limits;
  limits.max_pixels = int64_t{1} << 20;
  deepl::fuzz::expect_clean_rejection([&] { deepl::io::read_image_header(bytes, "input"); });
  deepl::fuzz::expect_clean_rejection([&] { deepl::io::decode_image(bytes, "input", limits); });
  const auto path = deepl::fuzz::input_file(data, size, ".png");
  for (int channels : {1, 3}) {
    deepl::fuzz::expect_clean_rejection([&] { deepl::data::read_image(path, channels, limits); });
  }
  return 0;
}
