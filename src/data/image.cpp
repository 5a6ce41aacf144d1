#include "deepl/data/image.h"

#include <fmt/format.h>
#include <stb_image.h>
#include <stb_image_write.h>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <memory>

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
// is dark strokes on light, as a photo of one would be.
torch::Tensor over_white(const torch::Tensor& with_alpha) {
  const int64_t colours = with_alpha.size(2) - 1;
  const torch::Tensor rgb = with_alpha.narrow(2, 0, colours).to(torch::kFloat32);
  const torch::Tensor alpha = with_alpha.narrow(2, colours, 1).to(torch::kFloat32) / 255.0;
  return (rgb * alpha + 255.0 * (1 - alpha)).round().to(torch::kUInt8);
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
  if (bytes.empty()) throw_data(path.string() + ": empty file");
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int length = static_cast<int>(std::min<size_t>(bytes.size(), INT32_MAX));
  int width = 0, height = 0, stored = 0;
  if (!stbi_info_from_memory(data, length, &width, &height, &stored)) {
    throw_data(
        fmt::format("{}: not a readable PNG, JPEG, BMP or PGM/PPM image ({})", path.string(), stbi_failure_reason()));
  }
  if (width <= 0 || height <= 0) throw_data(path.string() + ": image has no pixels");
  if (static_cast<int64_t>(width) * height > limits.max_pixels) {
    throw_data(fmt::format("{}: image is {}x{} pixels, over the limit of {} megapixels", path.string(), width, height,
                           limits.max_pixels >> 20));
  }
  const int wanted = channels + 1;  // with alpha, composited below
  int w = 0, h = 0, found = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load_from_memory(data, length, &w, &h, &found, wanted),
                                                   stbi_image_free);
  if (!pixels) throw_data(fmt::format("{}: cannot decode the image ({})", path.string(), stbi_failure_reason()));
  const torch::Tensor hwc = torch::from_blob(pixels.get(), {h, w, wanted}, torch::kUInt8);
  return over_white(hwc).permute({2, 0, 1}).contiguous();
}

std::string encode_png(const torch::Tensor& image) {
  torch::Tensor chw = image.dim() == 2 ? image.unsqueeze(0) : image;
  if (chw.dim() != 3 || (chw.size(0) != 1 && chw.size(0) != 3) || chw.scalar_type() != torch::kUInt8) {
    throw_usage("encode_png: expected a uint8 image [H, W] or [C, H, W] with 1 or 3 channels");
  }
  const torch::Tensor hwc = chw.permute({1, 2, 0}).contiguous();
  const int height = static_cast<int>(hwc.size(0)), width = static_cast<int>(hwc.size(1));
  const int comp = static_cast<int>(hwc.size(2));
  std::string png;
  auto append = [](void* context, void* bytes, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(bytes), static_cast<size_t>(size));
  };
  if (!stbi_write_png_to_func(append, &png, width, height, comp, hwc.data_ptr<uint8_t>(), width * comp)) {
    throw_failure("encode_png: stb_image_write failed");
  }
  return png;
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
