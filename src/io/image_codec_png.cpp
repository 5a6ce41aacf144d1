// PNG through libpng's simplified API: its errors longjmp inside libpng and come back as a zero
// return and image.message, so no C++ frame is ever jumped over; its warnings are stored, never printed.
#include <fmt/format.h>
#include <png.h>

#include <cstring>

#include "deepl/core/error.h"
#include "image_codec_formats.h"

namespace deepl::io {

namespace {

// A png_image whose read or write state libpng frees on every path (png_image_free does nothing
// once png_image_finish_read has freed it).
class PngImage {
 public:
  PngImage() {
    std::memset(&image_, 0, sizeof image_);
    image_.version = PNG_IMAGE_VERSION;
  }
  ~PngImage() { png_image_free(&image_); }
  PngImage(const PngImage&) = delete;
  PngImage& operator=(const PngImage&) = delete;
  png_image* get() { return &image_; }
  png_image* operator->() { return &image_; }

 private:
  png_image image_;
};

[[noreturn]] void throw_damaged(const png_image& image, const std::string& origin) {
  throw_data(fmt::format("{}: a damaged PNG image ({})", origin, image.message));
}

// Reads the chunks up to the image data, CRCs checked; allocates no pixels.
void begin_read(PngImage& image, std::string_view bytes, const std::string& origin) {
  if (!png_image_begin_read_from_memory(image.get(), bytes.data(), bytes.size())) throw_damaged(*image.get(), origin);
  // A 16-bit file without gamma information is sRGB, like 8-bit ones and as every viewer shows it
  // (libpng would take it as linear and brighten it): 16 bits then reduce to 8 by scaling alone.
  image->flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
}

// The file's own colour model (gray or RGB, with alpha when it has an alpha channel or a tRNS
// chunk), 8 bits a sample: palettes are expanded and 16-bit samples reduced.
png_uint_32 output_format(png_uint_32 file_format) {
  return file_format & (PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA);
}

}  // namespace

namespace detail {

ImageHeader png_header(std::string_view bytes, const std::string& origin) {
  PngImage image;
  begin_read(image, bytes, origin);
  return {ImageFormat::kPng, image->width, image->height,
          static_cast<int>(PNG_IMAGE_SAMPLE_CHANNELS(output_format(image->format)))};
}

RawImage png_decode(std::string_view bytes, const std::string& origin, const ImageLimits& limits) {
  PngImage image;
  begin_read(image, bytes, origin);
  check_image_size(image->width, image->height, origin, limits);
  image->format = output_format(image->format);
  RawImage raw;
  raw.width = image->width;
  raw.height = image->height;
  raw.channels = static_cast<int>(PNG_IMAGE_SAMPLE_CHANNELS(image->format));
  raw.pixels.resize(PNG_IMAGE_SIZE(*image.get()));
  if (!png_image_finish_read(image.get(), nullptr, raw.pixels.data(), 0, nullptr)) throw_damaged(*image.get(), origin);
  return raw;
}

}  // namespace detail

std::string encode_png(const uint8_t* pixels, int64_t width, int64_t height, int channels) {
  if (channels != 1 && channels != 3) throw_usage(fmt::format("encode_png: channels must be 1 or 3, got {}", channels));
  // libpng's row stride is a png_int_32.
  if (width <= 0 || height <= 0 || width > INT32_MAX / channels || height > INT32_MAX) {
    throw_usage(fmt::format("encode_png: cannot encode a {}x{} image", width, height));
  }
  PngImage image;
  image->width = static_cast<png_uint_32>(width);
  image->height = static_cast<png_uint_32>(height);
  image->format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  png_alloc_size_t size = PNG_IMAGE_PNG_SIZE_MAX(*image.get());
  std::string png(size, '\0');
  if (!png_image_write_to_memory(image.get(), png.data(), &size, 0, pixels, 0, nullptr)) {
    throw_failure(fmt::format("encode_png: libpng failed ({})", image->message));
  }
  png.resize(size);
  return png;
}

}  // namespace deepl::io
