#pragma once
// Image files in and out as tensors: PNG, JPEG, BMP and binary PGM/PPM decoded by io/image_codec.h
// (libpng, libjpeg-turbo and two small checked readers, chosen by the file's magic bytes), PNG
// written by libpng. Decoding refuses, before allocating, files over the input limits and images
// over a pixel cap, so a hostile header cannot exhaust memory.
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <vector>

#include "deepl/io/image_codec.h"

namespace deepl::data {

using ImageLimits = io::ImageLimits;

/// What an image file's header says, read without decoding its pixels.
struct ImageInfo {
  int64_t width = 0;
  int64_t height = 0;
  int channels = 0;  // 1: grayscale, 3: colour (alpha not counted): what read_image needs to lose nothing
};

/// The extensions read_image understands (lower case, with the dot): .png .jpg .jpeg .bmp .pgm .ppm .pnm.
bool is_image_file(const std::filesystem::path& path);

/// Decodes an image file into a uint8 tensor [channels, H, W] with `channels` 1 (grayscale, by
/// luminance) or 3 (RGB); transparent pixels are laid over white. The format is taken from the
/// file's bytes, not its name. Throws a data error naming the file when it is unreadable, not a
/// supported image, damaged, truncated, empty or larger than the limits.
torch::Tensor read_image(const std::filesystem::path& path, int channels, const ImageLimits& limits = {});

/// The size and colour of an image file from its header alone (usually its first kilobytes are
/// read); throws a data error naming the file as read_image does.
ImageInfo image_info(const std::filesystem::path& path);

/// Encodes a uint8 tensor [H, W] or [C, H, W] (C = 1 or 3) as PNG bytes.
std::string encode_png(const torch::Tensor& image);

/// Writes encode_png(image) to `path` atomically.
void write_png(const std::filesystem::path& path, const torch::Tensor& image);

/// Every image file in `folder` (by extension), sorted by path; with `recursive`, in sub-folders too.
std::vector<std::filesystem::path> list_images(const std::filesystem::path& folder, bool recursive);

}  // namespace deepl::data
