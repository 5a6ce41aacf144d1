#include "deepl/data/dataset.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "deepl/core/error.h"
#include "deepl/core/paths.h"
#include "deepl/data/idx.h"

namespace deepl::data {

namespace {

const std::vector<DatasetInfo>& registry() {
  static const std::vector<DatasetInfo> infos = {
      {"mnist", "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
       "t10k-labels-idx1-ubyte", {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
       "handwritten digits, 28x28 grayscale, 60000 train / 10000 test", {1, 28, 28}},
      {"fashion-mnist", "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
       "t10k-labels-idx1-ubyte",
       {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"},
       "Zalando clothing images, 28x28 grayscale, 60000 train / 10000 test", {1, 28, 28}},
  };
  return infos;
}

std::filesystem::path find_file(const std::filesystem::path& dir, const std::string& file) {
  for (const auto& candidate : {dir / file, dir / (file + ".gz")}) {
    if (std::filesystem::exists(candidate)) return candidate;
  }
  return {};
}

}  // namespace

std::vector<int64_t> Dataset::image_shape() const {
  if (images.dim() == 2) return {1, 1, images.size(1)};
  if (images.dim() == 3) return {1, images.size(1), images.size(2)};
  return {images.size(1), images.size(2), images.size(3)};
}

torch::Tensor in_target_units(const torch::Tensor& standardised, double target_mean, double target_std) {
  return standardised.to(torch::kFloat64) * target_std + target_mean;
}

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const auto& info : registry()) names.push_back(info.name);
  return names;
}

const DatasetInfo& dataset_info(const std::string& name) {
  for (const auto& info : registry())
    if (info.name == name) return info;
  throw_usage(fmt::format("unknown data set \"{}\" (known: {})", name, fmt::join(dataset_names(), ", ")));
}

std::filesystem::path resolve_data_root(const std::string& configured) {
  return data_folder(configured, locations());
}

Dataset load_idx_pair(const std::filesystem::path& images_path, const std::filesystem::path& labels_path,
                      std::vector<std::string> class_names, std::string name) {
  torch::Tensor images = read_idx(images_path);
  torch::Tensor labels = read_idx(labels_path);
  if (images.scalar_type() != torch::kUInt8 || (images.dim() != 3 && images.dim() != 4)) {
    throw_data(fmt::format("{}: expected uint8 images of rank 3 or 4, got {} of rank {}", images_path.string(),
                           c10::toString(images.scalar_type()), images.dim()));
  }
  if (labels.dim() != 1 || labels.is_floating_point()) {
    throw_data(fmt::format("{}: expected a rank-1 integer label file, got rank {}", labels_path.string(), labels.dim()));
  }
  if (images.size(0) != labels.size(0)) {
    throw_data(fmt::format("{}: {} labels for {} images in {}", labels_path.string(), labels.size(0), images.size(0),
                           images_path.string()));
  }
  labels = labels.to(torch::kInt64);
  const int64_t lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
  const auto k = static_cast<int64_t>(class_names.size());
  if (lo < 0 || hi >= k) {
    throw_data(fmt::format("{}: labels span {}..{}, outside the {} classes 0..{}", labels_path.string(), lo, hi, k, k - 1));
  }
  return Dataset{std::move(name), images, labels, std::move(class_names)};
}

Dataset load_dataset(const std::string& name, Split split, const std::filesystem::path& root) {
  const DatasetInfo& info = dataset_info(name);
  const std::filesystem::path dir = root / name;
  const bool train = split == Split::kTrain;
  const std::string image_file = train ? info.train_images : info.test_images;
  const std::string label_file = train ? info.train_labels : info.test_labels;
  const auto images = find_file(dir, image_file);
  const auto labels = find_file(dir, label_file);
  if (images.empty() || labels.empty()) {
    throw_data(fmt::format("{}: data set \"{}\" not found ({} missing); fetch it with: deepl data fetch {} "
                           "(or set data.root / DEEPL_DATA to where it is)",
                           dir.string(), name, images.empty() ? image_file : label_file, name));
  }
  return load_idx_pair(images, labels, info.class_names, name);
}

}  // namespace deepl::data
