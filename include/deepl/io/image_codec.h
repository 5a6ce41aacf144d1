#pragma once
// Image files as bytes: PNG (libpng), JPEG (libjpeg-turbo), BMP and binary PGM/PPM (small readers
// here), and PNG written by libpng. The decoder is chosen by the file's magic bytes, never its
// name; anything else is refused with a data error saying what the bytes look like (a GIF, a
// TIFF, ...) when that is recognisable. Every header is read and checked (dimensions, the pixel
// cap, the bytes present) before any pixel is allocated, so a hostile file costs an error, not
// memory. No LibTorch here: data/image.h turns these pixels into tensors.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace deepl::io {

enum class ImageFormat { kPng, kJpeg, kBmp, kPnm };

/// "PNG", "JPEG", "BMP" or "PGM/PPM".
const char* format_name(ImageFormat format);

struct ImageLimits {
  int64_t max_pixels = int64_t{100} << 20;  // width x height; a 108 MP phone photo is the largest we expect
};

/// Decoded pixels, rows top to bottom, channels interleaved (HWC): 1 gray, 2 gray + alpha, 3 RGB,
/// 4 RGBA. Alpha is straight (not premultiplied); 16-bit samples are reduced to 8 bits.
struct RawImage {
  int64_t width = 0;
  int64_t height = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;  // width * height * channels bytes
};

/// What a file's header says: its format, its size and the channels decode_image will return.
struct ImageHeader {
  ImageFormat format = ImageFormat::kPng;
  int64_t width = 0;
  int64_t height = 0;
  int channels = 0;
};

/// Parses only the header of `bytes` (a whole file, or a prefix long enough to hold the header;
/// for PNG and JPEG that is everything before the image data). `origin` (the file name) starts
/// every error message. Throws a data error for an unsupported, unrecognised or damaged header.
ImageHeader read_image_header(std::string_view bytes, const std::string& origin);

/// Decodes a whole image file. Throws a data error naming `origin` when the bytes are not a
/// supported image, are damaged or truncated, or hold more than limits.max_pixels pixels (checked
/// from the header, before decoding allocates). Bytes after the end of the image are ignored, as
/// every common viewer does (cameras append data to JPEGs).
RawImage decode_image(std::string_view bytes, const std::string& origin, const ImageLimits& limits = {});

/// Encodes 8-bit pixels, HWC interleaved with `channels` 1 (gray) or 3 (RGB), as PNG bytes.
/// Throws a usage error for an empty image or another channel count.
std::string encode_png(const uint8_t* pixels, int64_t width, int64_t height, int channels);

}  // namespace deepl::io
