#include "deepl/data/image.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "deepl/core/error.h"
#include "deepl/core/files.h"

namespace deepl::data {

namespace fs = std::filesystem;

namespace {

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

// Pixels with an alpha channel are laid over white paper: a drawing on a transparent background
// is dark strokes on light, as a photo of one would be. value * a/255 + 255 * (1 - a/255), rounded
// (with 255 odd, the exact value is never a half).
uint8_t over_white(uint32_t value, uint32_t alpha) {
  return static_cast<uint8_t>((value * alpha + 255 * (255 - alpha) + 127) / 255);
}

// ITU-R 601-2 luma, as PIL's "L" mode: R 299/1000 + G 587/1000 + B 114/1000, rounded.
uint8_t luminance(uint32_t r, uint32_t g, uint32_t b) {
  return static_cast<uint8_t>((r * 299 + g * 587 + b * 114 + 500) / 1000);
}

// Pixel i of `raw` as RGB: gray replicated, alpha composited over white.
std::array<uint8_t, 3> rgb_at(const io::RawImage& raw, int64_t i) {
  const uint8_t* p = raw.pixels.data() + i * raw.channels;
  std::array<uint8_t, 3> rgb = raw.channels >= 3 ? std::array<uint8_t, 3>{p[0], p[1], p[2]}
                                                 : std::array<uint8_t, 3>{p[0], p[0], p[0]};
  if (raw.channels == 2 || raw.channels == 4) {
    for (uint8_t& v : rgb) v = over_white(v, p[raw.channels - 1]);
  }
  return rgb;
}

// The decoded pixels (HWC, any colour model) as a [channels, H, W] tensor, channels 1 or 3.
torch::Tensor to_planes(const io::RawImage& raw, int channels) {
  const int64_t area = raw.width * raw.height;
  torch::Tensor planes = torch::empty({channels, raw.height, raw.width}, torch::kUInt8);
  uint8_t* out = planes.data_ptr<uint8_t>();
  for (int64_t i = 0; i < area; ++i) {
    const auto [r, g, b] = rgb_at(raw, i);
    if (channels == 1) {
      out[i] = luminance(r, g, b);
    } else {
      out[i] = r, out[area + i] = g, out[2 * area + i] = b;
    }
  }
  return planes;
}

// At most the first `size` bytes of a file.
std::string read_prefix(const fs::path& path, size_t size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_data(path.string() + ": cannot open: " + std::strerror(errno));
  std::string prefix(size, '\0');
  in.read(prefix.data(), static_cast<std::streamsize>(size));
  if (in.bad()) throw_data(path.string() + ": read failed");
  prefix.resize(static_cast<size_t>(in.gcount()));
  return prefix;
}

}  // namespace

bool is_image_file(const fs::path& path) {
  static const char* const kExtensions[] = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".pnm"};
  const std::string ext = lower_extension(path);
  return std::any_of(std::begin(kExtensions), std::end(kExtensions), [&](const char* e) { return ext == e; });
}

torch::Tensor read_image(const fs::path& path, int channels, const ImageLimits& limits) {
  if (channels != 1 && channels != 3) throw_usage(fmt::format("read_image: channels must be 1 or 3, got {}", channels));
  const std::string bytes = read_file(path);
  return to_planes(io::decode_image(bytes, path.string(), limits), channels);
}

ImageInfo image_info(const fs::path& path) {
  // Enough for the headers of nearly every file; EXIF thumbnails or ICC profiles can make a
  // JPEG's or PNG's header longer, and then the whole file is read.
  constexpr size_t kHeaderBytes = size_t{64} << 10;
  const std::string prefix = read_prefix(path, kHeaderBytes);
  io::ImageHeader header;
  try {
    header = io::read_image_header(prefix, path.string());
  } catch (const Error&) {
    if (prefix.size() < kHeaderBytes) throw;  // the prefix was the whole file
    header = io::read_image_header(read_file(path), path.string());
  }
  return {header.width, header.height, header.channels >= 3 ? 3 : 1};
}

std::string encode_png(const torch::Tensor& image) {
  torch::Tensor chw = image.dim() == 2 ? image.unsqueeze(0) : image;
  if (chw.dim() != 3 || (chw.size(0) != 1 && chw.size(0) != 3) || chw.scalar_type() != torch::kUInt8) {
    throw_usage("encode_png: expected a uint8 image [H, W] or [C, H, W] with 1 or 3 channels");
  }
  const torch::Tensor hwc = chw.permute({1, 2, 0}).contiguous();
  return io::encode_png(hwc.data_ptr<uint8_t>(), hwc.size(1), hwc.size(0), static_cast<int>(hwc.size(2)));
}

void write_png(const fs::path& path, const torch::Tensor& image) { write_file_atomic(path, encode_png(image)); }

std::vector<fs::path> list_images(const fs::path& folder, bool recursive) {
  std::vector<fs::path> found;
  auto keep = [&](const fs::directory_entry& e) {
    if (e.is_regular_file() && is_image_file(e.path())) found.push_back(e.path());
  };
  std::error_code error;
  if (recursive) {
    for (fs::recursive_directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) keep(*it);
  } else {
    for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) keep(*it);
  }
  if (error) throw_data(fmt::format("{}: cannot list the folder ({})", folder.string(), error.message()));
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace deepl::data
