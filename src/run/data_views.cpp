#include "deepl/run/data_views.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "deepl/core/error.h"
#include "deepl/data/dataset.h"
#include "deepl/data/loader.h"
#include "deepl/report/plot.h"

namespace deepl::run {

namespace {
data::Split parse_split(const std::string& split) {
  if (split == "train") return data::Split::kTrain;
  if (split == "test") return data::Split::kTest;
  throw_usage("--split: expected train or test, got \"" + split + "\"");
}
}  // namespace

report::GridImage grid_image(const data::Dataset& dataset, int64_t index, std::string caption, bool highlight) {
  const torch::Tensor img = dataset.images[index].reshape({-1, dataset.images.size(-1)}).contiguous();
  report::GridImage g;
  g.height = img.size(0);
  g.width = img.size(1);
  g.pixels.assign(img.data_ptr<uint8_t>(), img.data_ptr<uint8_t>() + img.numel());
  g.caption = std::move(caption);
  g.highlight = highlight;
  return g;
}

void write_data_grid(const std::string& dataset, const std::string& split, int count, uint64_t seed,
                     const std::filesystem::path& out, const std::string& root) {
  if (count < 1 || count > 1024) throw_usage("--n: expected 1..1024 images");
  const data::Dataset d = data::load_dataset(dataset, parse_split(split), data::resolve_data_root(root));
  const torch::Tensor pick = data::seeded_permutation(d.size(), seed).narrow(0, 0, std::min<int64_t>(count, d.size()));
  std::vector<report::GridImage> images;
  for (int64_t i = 0; i < pick.numel(); ++i) {
    const int64_t index = pick[i].item<int64_t>();
    images.push_back(grid_image(d, index, d.class_names.at(d.labels[index].item<int64_t>())));
  }
  report::write_image_grid_png(out, images, fmt::format("{} {}: {} random examples (seed {})", dataset, split, images.size(), seed));
}

std::string data_stats(const std::string& dataset, const std::string& root) {
  std::string out;
  for (const auto split : {data::Split::kTrain, data::Split::kTest}) {
    const data::Dataset d = data::load_dataset(dataset, split, data::resolve_data_root(root));
    const data::Normalization n = data::compute_normalization(d);
    const torch::Tensor counts = torch::bincount(d.labels, {}, d.num_classes());
    out += fmt::format("{} {}: {} images of {} (uint8), pixel mean {:.4f} std {:.4f} (in [0,1] units)\n", dataset,
                       split == data::Split::kTrain ? "train" : "test", d.size(), fmt::join(d.image_shape(), "x"),
                       n.mean.at(0), n.std.at(0));
    for (int64_t c = 0; c < d.num_classes(); ++c) {
      const int64_t k = counts[c].item<int64_t>();
      out += fmt::format("  {:>2} {:<12} {:>6} ({:.1f}%)\n", c, d.class_names.at(c), k,
                         100.0 * static_cast<double>(k) / static_cast<double>(d.size()));
    }
  }
  return out;
}

}  // namespace deepl::run
