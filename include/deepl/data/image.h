#pragma once
// Image files in and out: PNG, JPEG, BMP and PGM/PPM decoded with stb_image (Debian's libstb),
// PNG written with stb_image_write. Decoding refuses, before allocating, files over the input
// limits and images over a pixel cap, so a hostile header cannot exhaust memory.
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <vector>

namespace deepl::data {

struct ImageLimits {
  int64_t max_pixels = int64_t{100} << 20;  // width x height; a 108 MP phone photo is the largest we expect
};

/// The extensions read_image understands (lower case, with the dot): .png .jpg .jpeg .bmp .pgm .ppm .pnm.
bool is_image_file(const std::filesystem::path& path);

/// Decodes an image file into a uint8 tensor [channels, H, W] with `channels` 1 (grayscale, by
/// luminance) or 3 (RGB). Throws a data error naming the file when it is unreadable, not an image,
/// truncated, empty or larger than the limits.
torch::Tensor read_image(const std::filesystem::path& path, int channels, const ImageLimits& limits = {});

/// Encodes a uint8 tensor [H, W] or [C, H, W] (C = 1 or 3) as PNG bytes.
std::string encode_png(const torch::Tensor& image);

/// Writes encode_png(image) to `path` atomically.
void write_png(const std::filesystem::path& path, const torch::Tensor& image);

/// Every image file in `folder` (by extension), sorted by path; with `recursive`, in sub-folders too.
std::vector<std::filesystem::path> list_images(const std::filesystem::path& folder, bool recursive);

}  // namespace deepl::data
