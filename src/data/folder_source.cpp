// A folder of pictures decoded once, in parallel, into a uint8 tensor cached next to the pictures
// (keyed by the files' names, sizes and modification times and the decoding options), so every
// later run reads it as fast as an IDX set.
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <optional>

#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/data/idx.h"
#include "deepl/data/image.h"
#include "deepl/data/loader.h"
#include "deepl/data/sources.h"
#include "folder_scan.h"
#include "folder_source.h"

namespace deepl::data {

namespace fs = std::filesystem;
using nlohmann::json;
using folder::Part;
using folder::PictureFile;

namespace {

// Bump when decoding changes what a cached picture holds.
constexpr int kCacheFormat = 1;
constexpr int64_t kChunk = 256;  // pictures decoded between progress reports

struct Decoded {
  torch::Tensor pixels;  // uint8 [N, C, H, W] in scan order; zeros where a picture did not decode
  std::map<int64_t, std::string> bad;  // scan position -> why it did not decode
};

const char* policy_name(ResizePolicy policy) {
  switch (policy) {
    case ResizePolicy::kFit: return "fit";
    case ResizePolicy::kStretch: return "stretch";
    case ResizePolicy::kCrop: return "crop";
  }
  return "?";
}

std::string manifest_of(const folder::Scan& scan, const FolderSource& o) {
  std::string text = fmt::format("deepl picture cache {}\nsize {}x{} channels {} resize {}\n", kCacheFormat,
                                 o.image_size[0], o.image_size[1], o.channels, policy_name(o.resize));
  for (const PictureFile& f : scan.files) text += fmt::format("{}\t{}\t{}\n", f.relative, f.bytes, f.modified_ns);
  return text;
}

fs::path user_cache_folder() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return fs::path(xdg) / "deepl";
  if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".cache" / "deepl";
  return fs::temp_directory_path() / "deepl-cache";
}

// <folder>/.deepl-cache when the folder is writable, else the user's cache folder.
fs::path cache_folder(const FolderSource& o) {
  if (!o.cache_dir.empty()) return o.cache_dir;
  const fs::path beside = o.path / ".deepl-cache";
  if (fs::is_directory(beside) ? ::access(beside.c_str(), W_OK) == 0 : ::access(o.path.c_str(), W_OK) == 0) return beside;
  const std::string absolute = fs::absolute(o.path).lexically_normal().string();
  return user_cache_folder() / "folders" / fmt::format("{:016x}", folder::fnv1a(absolute));
}

std::optional<Decoded> read_cache(const fs::path& dir, const std::string& manifest) {
  std::error_code error;
  if (!fs::exists(dir / "decoded.json", error)) return std::nullopt;
  try {
    if (read_file(dir / "manifest.txt") != manifest) return std::nullopt;
    const json about = json::parse(read_file(dir / "decoded.json"));
    Decoded d{read_idx(dir / "pixels.idx"), {}};
    for (const auto& [position, why] : about.at("bad").items()) d.bad[std::stoll(position)] = why.get<std::string>();
    if (d.pixels.dim() != 4 || d.pixels.scalar_type() != torch::kUInt8) return std::nullopt;
    return d;
  } catch (const std::exception& e) {
    spdlog::warn("{}: picture cache unreadable, decoding again ({})", dir.string(), e.what());
    return std::nullopt;
  }
}

void write_cache(const fs::path& dir, const std::string& manifest, const Decoded& d) {
  try {
    json bad = json::object();
    for (const auto& [position, why] : d.bad) bad[std::to_string(position)] = why;
    write_idx(dir / "pixels.idx", d.pixels);
    write_file_atomic(dir / "manifest.txt", manifest);
    write_file_atomic(dir / "decoded.json", json{{"bad", bad}}.dump(1));  // last: marks the entry complete
  } catch (const std::exception& e) {
    spdlog::warn("{}: cannot write the picture cache ({}); the pictures will be decoded again next run", dir.string(),
                 e.what());
  }
}

struct Shape {
  int64_t channels = 0, height = 0, width = 0;
};

// The options' image size and channels, with "auto" resolved from the pictures' headers: the most
// common size, and colour when any picture has it.
Shape resolve_shape(const fs::path& root, const std::vector<PictureFile>& files, const FolderSource& o,
                    std::map<int64_t, std::string>& bad) {
  Shape shape{o.channels, o.image_size[0], o.image_size[1]};
  if (shape.channels > 0 && shape.height > 0) return shape;
  const auto n = static_cast<int64_t>(files.size());
  std::vector<ImageInfo> infos(static_cast<size_t>(n));
  std::vector<std::string> errors(static_cast<size_t>(n));
  at::parallel_for(0, n, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      try {
        infos[i] = image_info(root / files[i].relative);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    }
  });
  std::map<std::pair<int64_t, int64_t>, int64_t> sizes;
  bool colour = false;
  for (int64_t i = 0; i < n; ++i) {
    if (!errors[i].empty()) {
      bad[i] = errors[i];
      continue;
    }
    ++sizes[{infos[i].height, infos[i].width}];
    colour = colour || infos[i].channels >= 3;
  }
  if (shape.channels == 0) shape.channels = colour ? 3 : 1;
  if (shape.height == 0 && !sizes.empty()) {
    const auto most = std::max_element(sizes.begin(), sizes.end(),
                                       [](const auto& a, const auto& b) { return a.second < b.second; });
    std::tie(shape.height, shape.width) = most->first;
  }
  return shape;
}

int64_t physical_memory_bytes() {
  return static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
}

torch::Tensor allocate_pixels(const fs::path& root, int64_t n, const Shape& s) {
  const int64_t bytes = n * s.channels * s.height * s.width;
  if (bytes > physical_memory_bytes() / 2) {
    throw_data(fmt::format("{}: {} pictures at {}x{}x{} take {:.1f} GB decoded, over half of this machine's memory; "
                           "choose a smaller data.image_size",
                           root.string(), n, s.channels, s.height, s.width, static_cast<double>(bytes) / 1e9));
  }
  return torch::zeros({n, s.channels, s.height, s.width}, torch::kUInt8);
}

Decoded decode_all(const fs::path& root, const std::vector<PictureFile>& files, const FolderSource& o,
                   const LoadProgress& progress) {
  Decoded d;
  const Shape shape = resolve_shape(root, files, o, d.bad);
  const auto n = static_cast<int64_t>(files.size());
  if (shape.height == 0) throw_data(fmt::format("{}: none of the {} pictures could be read", root.string(), n));
  d.pixels = allocate_pixels(root, n, shape);
  std::vector<std::string> errors(static_cast<size_t>(n));
  for (int64_t start = 0; start < n; start += kChunk) {
    at::parallel_for(start, std::min(n, start + kChunk), 4, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        if (d.bad.count(i)) continue;
        try {
          const torch::Tensor image = read_image(root / files[i].relative, static_cast<int>(shape.channels));
          d.pixels[i].copy_(resize_picture(image, shape.height, shape.width, o.resize));
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      }
    });
    if (progress) progress(std::min(n, start + kChunk), n);
  }
  for (int64_t i = 0; i < n; ++i)
    if (!errors[i].empty()) d.bad[i] = errors[i];
  return d;
}

void report_bad(const fs::path& root, const Decoded& d, bool skip) {
  if (d.bad.empty()) return;
  if (!skip) {
    throw_data(fmt::format("{} (and {} more picture(s) that do not decode; data.on_bad_image: \"skip\" leaves them out)",
                           d.bad.begin()->second, d.bad.size() - 1));
  }
  std::vector<std::string> reasons;
  for (const auto& [position, why] : d.bad) reasons.push_back(why);
  spdlog::warn("{}: left out {} picture(s) that do not decode: {}", root.string(), d.bad.size(), fmt::join(reasons, "; "));
}

}  // namespace

DecodedFolder decode_folder(const FolderSource& o, const LoadProgress& progress) {
  DecodedFolder out;
  out.scan = folder::scan_folder(o.path, o.test_fraction);
  if (out.scan.not_pictures > 0) {
    spdlog::warn("{}: skipped {} file(s) that are not pictures (.png .jpg .jpeg .bmp .pgm .ppm .pnm)", o.path.string(),
                 out.scan.not_pictures);
  }
  const std::string manifest = manifest_of(out.scan, o);
  const fs::path cache = cache_folder(o) / fmt::format("{:016x}", folder::fnv1a(manifest));
  std::optional<Decoded> decoded = read_cache(cache, manifest);
  if (decoded) {
    spdlog::info("{}: {} pictures from the cache {}", o.path.string(), out.scan.files.size(), cache.string());
  } else {
    decoded = decode_all(o.path, out.scan.files, o, progress);
    write_cache(cache, manifest, *decoded);
  }
  report_bad(o.path, *decoded, o.skip_bad_images);
  out.pixels = decoded->pixels;
  for (const auto& [position, why] : decoded->bad) out.bad.push_back(position);
  return out;
}

Dataset folder_split(const FolderSource& o, Split split, const LoadProgress& progress) {
  const DecodedFolder decoded = decode_folder(o, progress);
  const auto& files = decoded.scan.files;
  std::vector<int64_t> keep, validation;
  for (int64_t i = 0; i < static_cast<int64_t>(files.size()); ++i) {
    if (std::binary_search(decoded.bad.begin(), decoded.bad.end(), i)) continue;
    const Part part = files[i].part;
    const bool wanted = split == Split::kTest ? part == Part::kTest : part != Part::kTest;
    if (!wanted) continue;
    if (part == Part::kVal) validation.push_back(static_cast<int64_t>(keep.size()));
    keep.push_back(i);
  }
  if (keep.empty()) {
    throw_data(fmt::format("{}: no {} pictures (data.test_fraction is 0, or the folder has no test/)", o.path.string(),
                           split == Split::kTest ? "test" : "training"));
  }
  const torch::Tensor positions = torch::tensor(keep, torch::kInt64);
  Dataset d;
  d.name = "folder";
  d.images = decoded.pixels.index_select(0, positions);
  d.class_names = decoded.scan.class_names;
  std::vector<int64_t> labels;
  for (const int64_t i : keep) {
    labels.push_back(files[i].label);
    d.files.push_back(files[i].relative);
  }
  d.labels = torch::tensor(labels, torch::kInt64);
  if (!validation.empty()) d.validation = torch::tensor(validation, torch::kInt64);
  return d;
}

torch::Tensor resize_picture(const torch::Tensor& image, int64_t height, int64_t width, ResizePolicy policy) {
  const int64_t h = image.size(1), w = image.size(2);
  if (h == height && w == width) return image;
  const torch::Tensor x = image.unsqueeze(0).to(torch::kFloat32);
  const double sh = static_cast<double>(height) / static_cast<double>(h);
  const double sw = static_cast<double>(width) / static_cast<double>(w);
  torch::Tensor out;
  if (policy == ResizePolicy::kStretch) {
    out = resize_images(x, height, width);
  } else if (policy == ResizePolicy::kCrop) {
    const double s = std::max(sh, sw);
    const int64_t ch = std::max<int64_t>(height, std::llround(static_cast<double>(h) * s));
    const int64_t cw = std::max<int64_t>(width, std::llround(static_cast<double>(w) * s));
    out = resize_images(x, ch, cw).narrow(2, (ch - height) / 2, height).narrow(3, (cw - width) / 2, width);
  } else {
    const double s = std::min(sh, sw);
    const int64_t fh = std::clamp<int64_t>(std::llround(static_cast<double>(h) * s), 1, height);
    const int64_t fw = std::clamp<int64_t>(std::llround(static_cast<double>(w) * s), 1, width);
    out = torch::zeros({1, image.size(0), height, width}, torch::kFloat32);
    out.narrow(2, (height - fh) / 2, fh).narrow(3, (width - fw) / 2, fw).copy_(resize_images(x, fh, fw));
  }
  return out.round().clamp(0, 255).to(torch::kUInt8).squeeze(0).contiguous();
}

}  // namespace deepl::data
