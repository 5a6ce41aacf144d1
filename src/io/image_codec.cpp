#include "deepl/io/image_codec.h"

#include <fmt/format.h>

#include <cctype>
#include <optional>

#include "deepl/core/error.h"
#include "image_codec_formats.h"

namespace deepl::io {

namespace {

constexpr const char* kSupported = "(PNG, JPEG, BMP, binary PGM/PPM only)";

bool has_at(std::string_view bytes, size_t at, std::string_view what) {
  return bytes.size() >= at + what.size() && bytes.substr(at, what.size()) == what;
}

bool starts_with(std::string_view bytes, std::string_view prefix) { return has_at(bytes, 0, prefix); }

std::optional<ImageFormat> format_by_magic(std::string_view bytes) {
  if (starts_with(bytes, "\x89PNG\r\n\x1a\n")) return ImageFormat::kPng;
  if (starts_with(bytes, "\xff\xd8\xff")) return ImageFormat::kJpeg;
  if (starts_with(bytes, "BM")) return ImageFormat::kBmp;
  if (starts_with(bytes, "P5") || starts_with(bytes, "P6")) return ImageFormat::kPnm;
  return std::nullopt;
}

bool is_heif(std::string_view bytes) {
  if (!has_at(bytes, 4, "ftyp")) return false;
  for (const char* brand : {"heic", "heix", "hevc", "heim", "heis", "mif1", "msf1", "avif", "avis"}) {
    if (has_at(bytes, 8, brand)) return true;
  }
  return false;
}

// What bytes deepl does not read look like, for the error message; empty when unrecognised.
std::string unsupported_kind(std::string_view bytes) {
  if (starts_with(bytes, "GIF87a") || starts_with(bytes, "GIF89a")) return "a GIF image";
  if (starts_with(bytes, "8BPS")) return "a Photoshop (PSD) image";
  if (starts_with(bytes, "RIFF") && has_at(bytes, 8, "WEBP")) return "a WebP image";
  if (starts_with(bytes, std::string_view("II*\0", 4)) || starts_with(bytes, std::string_view("MM\0*", 4))) {
    return "a TIFF image";
  }
  if (is_heif(bytes)) return "a HEIF/AVIF image";
  if (bytes.size() >= 3 && bytes[0] == 'P' && std::string_view("12347").find(bytes[1]) != std::string_view::npos &&
      std::isspace(static_cast<unsigned char>(bytes[2]))) {
    return fmt::format("a P{} PNM image (ASCII, 1-bit or PAM)", bytes[1]);
  }
  return "";
}

ImageFormat supported_format(std::string_view bytes, const std::string& origin) {
  if (bytes.empty()) throw_data(origin + ": empty file");
  if (const auto format = format_by_magic(bytes)) return *format;
  const std::string kind = unsupported_kind(bytes);
  if (kind.empty()) throw_data(origin + ": not a PNG, JPEG, BMP or PGM/PPM file");
  throw_data(fmt::format("{}: {}, which deepl does not read {}", origin, kind, kSupported));
}

}  // namespace

const char* format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kBmp: return "BMP";
    case ImageFormat::kPnm: return "PGM/PPM";
  }
  return "?";
}

namespace detail {

void check_has_pixels(int64_t width, int64_t height, const std::string& origin) {
  if (width <= 0 || height <= 0) throw_data(fmt::format("{}: image has no pixels ({}x{})", origin, width, height));
}

void check_image_size(int64_t width, int64_t height, const std::string& origin, const ImageLimits& limits) {
  check_has_pixels(width, height, origin);
  // Both come from 32-bit header fields, so the product cannot overflow.
  if (width * height > limits.max_pixels) {
    throw_data(fmt::format("{}: image is {}x{} pixels, over the limit of {} megapixels", origin, width, height,
                           limits.max_pixels >> 20));
  }
}

}  // namespace detail

ImageHeader read_image_header(std::string_view bytes, const std::string& origin) {
  switch (supported_format(bytes, origin)) {
    case ImageFormat::kPng: return detail::png_header(bytes, origin);
    case ImageFormat::kJpeg: return detail::jpeg_header(bytes, origin);
    case ImageFormat::kBmp: return detail::bmp_header(bytes, origin);
    case ImageFormat::kPnm: return detail::pnm_header(bytes, origin);
  }
  throw_failure("read_image_header: unknown format");
}

RawImage decode_image(std::string_view bytes, const std::string& origin, const ImageLimits& limits) {
  switch (supported_format(bytes, origin)) {
    case ImageFormat::kPng: return detail::png_decode(bytes, origin, limits);
    case ImageFormat::kJpeg: return detail::jpeg_decode(bytes, origin, limits);
    case ImageFormat::kBmp: return detail::bmp_decode(bytes, origin, limits);
    case ImageFormat::kPnm: return detail::pnm_decode(bytes, origin, limits);
  }
  throw_failure("decode_image: unknown format");
}

}  // namespace deepl::io
