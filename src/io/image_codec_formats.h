#pragma once
// The per-format readers behind image_codec.h (not installed). Each takes bytes that start with its
// format's magic; the *_decode functions call check_image_size with the header's dimensions before
// allocating the pixels.
#include <string>
#include <string_view>

#include "deepl/io/image_codec.h"

namespace deepl::io::detail {

/// Throws a data error naming `origin` when width or height is not positive.
void check_has_pixels(int64_t width, int64_t height, const std::string& origin);
/// check_has_pixels, and a data error when width x height is over limits.max_pixels.
void check_image_size(int64_t width, int64_t height, const std::string& origin, const ImageLimits& limits);

ImageHeader png_header(std::string_view bytes, const std::string& origin);
RawImage png_decode(std::string_view bytes, const std::string& origin, const ImageLimits& limits);

ImageHeader jpeg_header(std::string_view bytes, const std::string& origin);
RawImage jpeg_decode(std::string_view bytes, const std::string& origin, const ImageLimits& limits);

ImageHeader bmp_header(std::string_view bytes, const std::string& origin);
RawImage bmp_decode(std::string_view bytes, const std::string& origin, const ImageLimits& limits);

ImageHeader pnm_header(std::string_view bytes, const std::string& origin);
RawImage pnm_decode(std::string_view bytes, const std::string& origin, const ImageLimits& limits);

}  // namespace deepl::io::detail
