#include "session/feature_cache.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>

#include "deepl/core/device.h"
#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/eval/inference.h"
#include "deepl/io/pytorch_file.h"

namespace deepl::run {

namespace fs = std::filesystem;

namespace {

uint64_t fnv1a(std::string_view bytes, uint64_t hash = 0xcbf29ce484222325ULL) {
  for (unsigned char c : bytes) hash = (hash ^ c) * 0x100000001b3ULL;
  return hash;
}

torch::Tensor read_cache(const fs::path& path, const std::string& key, int64_t n) {
  if (!fs::exists(path)) return {};
  try {
    const std::string bytes = read_file(path);
    const c10::IValue v = io::read_pickle_archive(bytes, path.string());
    if (!v.isGenericDict()) return {};
    const auto dict = v.toGenericDict();
    const auto k = dict.find("key"), f = dict.find("features");
    if (k == dict.end() || f == dict.end() || !k->value().isString() || k->value().toStringRef() != key || !f->value().isTensor()) {
      return {};
    }
    torch::Tensor features = f->value().toTensor();
    return features.dim() == 4 && features.size(0) == n ? features : torch::Tensor();
  } catch (const std::exception& e) {
    spdlog::warn("{}: unreadable feature cache, rebuilding it ({})", path.string(), e.what());
    return {};
  }
}

}  // namespace

data::Dataset cached_features(models::VggImpl& vgg, const data::Dataset& images, const std::string& split,
                              const data::Normalization& normalization, const std::string& weights_file,
                              const fs::path& cache_dir, const deepl::Precision& precision) {
  const std::string key = fmt::format("vgg{} input {} mean {} std {} data {} {} n {} precision {}", vgg.options.depth(),
                                      vgg.options.adapt_input_size(), fmt::join(normalization.mean, ","),
                                      fmt::join(normalization.std, ","), images.name, split, images.size(), precision.describe());
  const uint64_t hash = fnv1a(key, fnv1a(read_file(weights_file)));
  const fs::path path = cache_dir / fmt::format("{}-{}-vgg{}-{:016x}.pt", images.name, split, vgg.options.depth(), hash);
  data::Dataset out{images.name + "-features", {}, images.labels, images.class_names};
  out.images = read_cache(path, key, images.size());
  if (out.images.defined()) {
    spdlog::info("features of {} {} read from {}", images.name, split, path.string());
    return out;
  }
  const auto start = std::chrono::steady_clock::now();
  data::LoaderOptions o;
  o.batch_size = 256;
  o.normalization = normalization;
  o.device = device_of(vgg);
  const data::BatchLoader loader(images, torch::Tensor(), o);
  std::vector<torch::Tensor> parts;
  {
    torch::InferenceMode guard;
    vgg.eval();
    const eval::InferencePlan backbone(*vgg.backbone(), precision);
    for (int64_t i = 0; i < loader.num_batches(); ++i) parts.push_back(backbone.forward(loader.batch(i).inputs).cpu().contiguous());
  }
  out.images = torch::cat(parts);
  c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
  dict.insert("key", key);
  dict.insert("features", out.images);
  const std::vector<char> bytes = torch::pickle_save(dict);
  write_file_atomic(path, std::string_view(bytes.data(), bytes.size()));
  spdlog::info("computed the features of {} {} images in {:.1f}s; cached in {}", images.size(), split,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), path.string());
  return out;
}

}  // namespace deepl::run
