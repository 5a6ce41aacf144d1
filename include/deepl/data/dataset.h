#pragma once
// In-memory image data sets and the registry of the ones deepl knows (mnist, fashion-mnist).
// Images stay uint8 ([N, H, W] or [N, C, H, W]); batches convert to float on the fly.
#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace deepl::data {

struct Dataset {
  std::string name;
  torch::Tensor images;  // uint8, [N, H, W] or [N, C, H, W]; or float features, used as they are
  torch::Tensor labels;  // int64 [N] class indices; or float [N] standardised targets of a regression
  std::vector<std::string> class_names;
  std::vector<std::string> files{};  // where each example came from, relative to the source; empty for IDX sets
  torch::Tensor validation{};        // int64 positions a source fixes as validation (a folder's val/); else undefined
  std::vector<std::string> feature_names{};  // a table's feature columns, in input order; empty for pictures
  std::vector<double> feature_mean{}, feature_std{};  // what a table's features were standardised with
  double target_mean = 0.0, target_std = 1.0;         // what a regression's targets were standardised with

  int64_t size() const { return labels.size(0); }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  /// True when the labels are numbers to predict (a table's regression target), not classes.
  bool regression() const { return labels.defined() && labels.is_floating_point(); }
  /// Image shape as [C, H, W] (C = 1 for [N, H, W] images; [1, 1, F] for a table's [N, F] features).
  std::vector<int64_t> image_shape() const;
};

enum class Split { kTrain, kTest };

struct DatasetInfo {
  std::string name;
  std::string train_images, train_labels, test_images, test_labels;  // file names (".gz" also tried)
  std::vector<std::string> class_names;
  std::string description;
  std::vector<int64_t> image_shape;  // [C, H, W]
};

/// A regression's standardised values (targets or outputs) in the target's own units, as float64.
torch::Tensor in_target_units(const torch::Tensor& standardised, double target_mean, double target_std);

/// The registered data sets' names.
std::vector<std::string> dataset_names();
/// The registry entry for `name`; throws a usage error listing the known names otherwise.
const DatasetInfo& dataset_info(const std::string& name);
/// Where data sets live: `configured` if not empty, else $DEEPL_DATA, else the clone's data/ when
/// run from a clone, else $XDG_DATA_HOME/deepl (~/.local/share/deepl); see deepl::data_folder.
std::filesystem::path resolve_data_root(const std::string& configured);
/// Loads a registered data set's split from root/<name>/. A missing data set gets an error
/// that says how to fetch it.
Dataset load_dataset(const std::string& name, Split split, const std::filesystem::path& root);
/// Loads an image file and a label file (IDX, raw or gzip), checking counts and label range.
Dataset load_idx_pair(const std::filesystem::path& images, const std::filesystem::path& labels,
                      std::vector<std::string> class_names, std::string name = "custom");

}  // namespace deepl::data
