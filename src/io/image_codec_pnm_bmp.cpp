// Binary PGM/PPM (P5/P6) and uncompressed Windows BMP, read by hand: every header field is checked,
// and the pixel bytes are known to be present, before the pixels are allocated.
#include <fmt/format.h>

#include <array>
#include <cctype>
#include <climits>

#include "deepl/core/error.h"
#include "image_codec_formats.h"

namespace deepl::io {

namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// True when `rows` rows of `row_bytes` each fit in the bytes from `offset` on (no overflow).
bool rows_present(std::string_view bytes, size_t offset, int64_t row_bytes, int64_t rows) {
  if (offset > bytes.size()) return false;
  return static_cast<uint64_t>(bytes.size() - offset) / static_cast<uint64_t>(row_bytes) >= static_cast<uint64_t>(rows);
}

// ---- PGM/PPM ------------------------------------------------------------------------------------

struct PnmLayout {
  ImageHeader header;
  int maxval = 0;
  size_t data_offset = 0;
};

// The next decimal field of a PNM header at `at`, past whitespace and # comments.
int64_t pnm_field(std::string_view bytes, size_t& at, const std::string& origin, const char* what) {
  while (at < bytes.size() && (is_space(bytes[at]) || bytes[at] == '#')) {
    if (bytes[at] == '#') {
      while (at < bytes.size() && bytes[at] != '\n' && bytes[at] != '\r') ++at;
    } else {
      ++at;
    }
  }
  if (at >= bytes.size() || !std::isdigit(static_cast<unsigned char>(bytes[at]))) {
    throw_data(fmt::format("{}: a damaged PGM/PPM header (no {})", origin, what));
  }
  int64_t value = 0;
  for (; at < bytes.size() && std::isdigit(static_cast<unsigned char>(bytes[at])); ++at) {
    value = value * 10 + (bytes[at] - '0');
    if (value > INT32_MAX) throw_data(fmt::format("{}: a PGM/PPM header whose {} is too large", origin, what));
  }
  if (at >= bytes.size() || !is_space(bytes[at])) {
    throw_data(fmt::format("{}: a damaged PGM/PPM header (no whitespace after the {})", origin, what));
  }
  return value;
}

PnmLayout parse_pnm(std::string_view bytes, const std::string& origin) {
  if (bytes.size() < 3 || !is_space(bytes[2])) throw_data(origin + ": a damaged PGM/PPM header");
  PnmLayout layout;
  layout.header.format = ImageFormat::kPnm;
  layout.header.channels = bytes[1] == '5' ? 1 : 3;
  size_t at = 2;
  layout.header.width = pnm_field(bytes, at, origin, "width");
  layout.header.height = pnm_field(bytes, at, origin, "height");
  const int64_t maxval = pnm_field(bytes, at, origin, "maximum value");
  if (maxval < 1 || maxval > 65535) throw_data(fmt::format("{}: a PGM/PPM maximum value of {} (1 to 65535 allowed)", origin, maxval));
  layout.maxval = static_cast<int>(maxval);
  layout.data_offset = at + 1;  // exactly one whitespace byte ends the header
  detail::check_has_pixels(layout.header.width, layout.header.height, origin);
  return layout;
}

// A sample of 0..maxval as 0..255, rounded; samples over maxval count as maxval.
uint8_t to_8_bits(uint32_t sample, uint32_t maxval) {
  if (sample > maxval) sample = maxval;
  return static_cast<uint8_t>((sample * 255 + maxval / 2) / maxval);
}

// ---- BMP ----------------------------------------------------------------------------------------

// Little-endian fields of a BMP header; a read past the end is a truncated file.
class BmpReader {
 public:
  BmpReader(std::string_view bytes, const std::string& origin) : bytes_(bytes), origin_(origin) {}
  void seek(size_t at) { at_ = at; }
  uint32_t u32() {
    const uint32_t low = u16();
    return low | uint32_t{u16()} << 16;
  }
  int32_t i32() { return static_cast<int32_t>(u32()); }
  uint16_t u16() {
    const uint32_t low = u8();
    return static_cast<uint16_t>(low | uint32_t{u8()} << 8);
  }
  uint8_t u8() {
    if (at_ >= bytes_.size()) throw_data(origin_ + ": a truncated BMP file");
    return static_cast<uint8_t>(bytes_[at_++]);
  }

 private:
  std::string_view bytes_;
  const std::string& origin_;
  size_t at_ = 0;
};

struct BmpLayout {
  ImageHeader header;
  int bits = 0;
  bool top_down = false;
  uint64_t pixel_offset = 0;
  std::array<uint8_t, 256 * 3> palette{};  // RGB; indices past the file's palette are black
};

void read_palette(BmpReader& reader, uint32_t colours_used, BmpLayout& layout, const std::string& origin) {
  const uint32_t entries = colours_used == 0 ? 256 : colours_used;
  if (entries > 256) throw_data(fmt::format("{}: a damaged BMP header ({} palette colours)", origin, entries));
  bool gray = true;
  for (uint32_t i = 0; i < entries; ++i) {
    const uint8_t b = reader.u8(), g = reader.u8(), r = reader.u8();
    reader.u8();
    layout.palette[i * 3] = r;
    layout.palette[i * 3 + 1] = g;
    layout.palette[i * 3 + 2] = b;
    gray = gray && r == g && g == b;
  }
  layout.header.channels = gray ? 1 : 3;
}

void check_bmp_kind(uint32_t header_size, uint16_t planes, uint16_t bits, uint32_t compression,
                    const std::string& origin) {
  if (header_size == 12) throw_data(origin + ": an OS/2 BMP, which deepl does not read (Windows BMP only)");
  if (header_size != 40 && header_size != 52 && header_size != 56 && header_size != 108 && header_size != 124) {
    throw_data(fmt::format("{}: a damaged BMP header (header size {})", origin, header_size));
  }
  if (planes != 1) throw_data(fmt::format("{}: a damaged BMP header ({} planes)", origin, planes));
  if (bits != 8 && bits != 24 && bits != 32) {
    throw_data(fmt::format("{}: a {}-bit BMP, which deepl does not read (8, 24 or 32-bit only)", origin, bits));
  }
  if (compression != 0) {
    throw_data(fmt::format("{}: a compressed BMP (compression {}), which deepl does not read (uncompressed only)",
                           origin, compression));
  }
}

BmpLayout parse_bmp(std::string_view bytes, const std::string& origin) {
  BmpReader reader(bytes, origin);
  BmpLayout layout;
  layout.header.format = ImageFormat::kBmp;
  reader.seek(10);
  layout.pixel_offset = reader.u32();
  const uint32_t header_size = reader.u32();
  const int32_t width = reader.i32(), height = reader.i32();
  const uint16_t planes = reader.u16(), bits = reader.u16();
  const uint32_t compression = reader.u32();
  reader.seek(46);
  const uint32_t colours_used = reader.u32();
  check_bmp_kind(header_size, planes, bits, compression, origin);
  if (height == INT32_MIN) throw_data(origin + ": a damaged BMP header (height)");
  layout.bits = bits;
  layout.top_down = height < 0;
  layout.header.width = width;
  layout.header.height = height < 0 ? -int64_t{height} : height;
  detail::check_has_pixels(layout.header.width, layout.header.height, origin);
  layout.header.channels = 3;
  if (bits == 8) {
    reader.seek(14 + header_size);
    read_palette(reader, colours_used, layout, origin);
  }
  return layout;
}

void bmp_row(const BmpLayout& layout, const uint8_t* in, uint8_t* out) {
  const int64_t width = layout.header.width;
  if (layout.bits == 8) {
    for (int64_t x = 0; x < width; ++x) {
      const uint8_t* colour = &layout.palette[in[x] * 3];
      if (layout.header.channels == 1) {
        out[x] = colour[0];
      } else {
        out[x * 3] = colour[0], out[x * 3 + 1] = colour[1], out[x * 3 + 2] = colour[2];
      }
    }
    return;
  }
  const int step = layout.bits / 8;  // BGR, or BGRX whose fourth byte BI_RGB leaves unused
  for (int64_t x = 0; x < width; ++x, in += step) out[x * 3] = in[2], out[x * 3 + 1] = in[1], out[x * 3 + 2] = in[0];
}

}  // namespace

namespace detail {

ImageHeader pnm_header(std::string_view bytes, const std::string& origin) { return parse_pnm(bytes, origin).header; }

RawImage pnm_decode(std::string_view bytes, const std::string& origin, const ImageLimits& limits) {
  const PnmLayout layout = parse_pnm(bytes, origin);
  const ImageHeader& header = layout.header;
  check_image_size(header.width, header.height, origin, limits);
  const int sample_bytes = layout.maxval < 256 ? 1 : 2;
  const int64_t row_samples = header.width * header.channels;
  if (!rows_present(bytes, layout.data_offset, row_samples * sample_bytes, header.height)) {
    throw_data(origin + ": a truncated PGM/PPM file");
  }
  RawImage raw{header.width, header.height, header.channels, {}};
  raw.pixels.resize(static_cast<size_t>(row_samples * header.height));
  const auto* in = reinterpret_cast<const uint8_t*>(bytes.data()) + layout.data_offset;
  const auto maxval = static_cast<uint32_t>(layout.maxval);
  for (size_t i = 0; i < raw.pixels.size(); ++i) {
    const uint32_t sample = sample_bytes == 1 ? in[i] : (uint32_t{in[2 * i]} << 8 | in[2 * i + 1]);
    raw.pixels[i] = maxval == 255 ? static_cast<uint8_t>(sample) : to_8_bits(sample, maxval);
  }
  return raw;
}

ImageHeader bmp_header(std::string_view bytes, const std::string& origin) { return parse_bmp(bytes, origin).header; }

RawImage bmp_decode(std::string_view bytes, const std::string& origin, const ImageLimits& limits) {
  const BmpLayout layout = parse_bmp(bytes, origin);
  const ImageHeader& header = layout.header;
  check_image_size(header.width, header.height, origin, limits);
  const int64_t stride = (header.width * layout.bits + 31) / 32 * 4;  // rows are padded to 4 bytes
  if (!rows_present(bytes, layout.pixel_offset, stride, header.height)) throw_data(origin + ": a truncated BMP file");
  RawImage raw{header.width, header.height, header.channels, {}};
  const int64_t out_row = header.width * header.channels;
  raw.pixels.resize(static_cast<size_t>(out_row * header.height));
  const auto* first = reinterpret_cast<const uint8_t*>(bytes.data()) + layout.pixel_offset;
  for (int64_t y = 0; y < header.height; ++y) {
    const int64_t stored = layout.top_down ? y : header.height - 1 - y;
    bmp_row(layout, first + stored * stride, raw.pixels.data() + y * out_row);
  }
  return raw;
}

}  // namespace detail

}  // namespace deepl::io
