#pragma once
// Pieces shared by training a run (experiment.cpp) and using its checkpoints afterwards
// (checkpoint_use.cpp): the data statistics a checkpoint carries, loaders, the model and its
// numeric format from a config, and the evaluation reports. Internal to the library.
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "deepl/config/config.h"
#include "deepl/core/error.h"
#include "deepl/data/dataset.h"
#include "deepl/data/loader.h"
#include "deepl/dist/world.h"
#include "deepl/eval/metrics.h"
#include "deepl/models/registry.h"
#include "deepl/train/checkpoint.h"
#include "deepl/train/precision.h"

namespace deepl::run::detail {

// What a run knows about its data besides the pixels; stored in every checkpoint so evaluation
// and prediction rebuild the same inputs without the training set.
struct DataStats {
  std::string dataset;
  data::Normalization normalization;
  std::vector<int64_t> input_shape;  // [C, H, W]
  std::vector<std::string> class_names;

  nlohmann::json to_json() const {
    return {{"dataset", dataset},        {"mean", normalization.mean}, {"std", normalization.std},
            {"input_shape", input_shape}, {"class_names", class_names}};
  }
  static DataStats from_json(const nlohmann::json& j, const std::string& origin) {
    try {
      DataStats s;
      s.dataset = j.at("dataset");
      s.normalization.mean = j.at("mean").get<std::vector<double>>();
      s.normalization.std = j.at("std").get<std::vector<double>>();
      s.input_shape = j.at("input_shape").get<std::vector<int64_t>>();
      s.class_names = j.at("class_names").get<std::vector<std::string>>();
      return s;
    } catch (const nlohmann::json::exception& e) {
      throw_data(origin + ": checkpoint metadata lacks the data statistics (" + e.what() + ")");
    }
  }
  models::InputSpec spec() const {
    return {input_shape.at(0), input_shape.at(1), input_shape.at(2), static_cast<int64_t>(class_names.size())};
  }
};

data::BatchLoader make_loader(const data::Dataset& dataset, const torch::Tensor& indices, int64_t batch_size,
                              bool training, const config::Experiment& exp, const DataStats& stats,
                              const dist::WorldInfo& world = {});
std::shared_ptr<models::NetworkImpl> build_network(const config::Experiment& exp, const models::InputSpec& spec);
/// Throws a usage error naming /data/progressive_sizes when `model` cannot take one of its sizes
/// (a flattening model fixed to the images' own size); tries one forward pass at each.
void check_progressive_sizes(models::NetworkImpl& model, const config::Experiment& exp, const models::InputSpec& spec);
/// Where oneDNN gets this CPU model's gradients wrong (train/onednn_check.h), at the images' size
/// and each of data.progressive_sizes, switches oneDNN off for the process with a warning; returns
/// what was wrong, or "" (also for a model not on the CPU or with oneDNN already off).
std::string avoid_wrong_onednn_gradients(models::NetworkImpl& model, const config::Experiment& exp,
                                         const train::Precision& precision, const models::InputSpec& spec);
/// train.precision and train.channels_last resolved for this CPU (or the run's CUDA device); warns
/// when bf16 was asked for on a CPU without native bf16.
train::Precision precision_of(const config::Experiment& exp);
/// The views of each image whose outputs evaluation and prediction average (eval.tta).
eval::TestTimeAugmentation test_time_augmentation(const config::Experiment& exp);
models::Task task_of(const config::Experiment& exp);
/// metrics.json, confusion_matrix.{csv,png} and misclassified.png in `dir`.
void write_evaluation_reports(const std::filesystem::path& dir, const eval::Evaluation& e, const data::Dataset& dataset,
                              const std::string& title, const nlohmann::json& extra);
double seconds_since(std::chrono::steady_clock::time_point start);

/// A model rebuilt from a checkpoint alone (its embedded config and data statistics), in eval mode
/// on this machine's device.
struct LoadedModel {
  config::Experiment experiment;
  DataStats stats;
  std::shared_ptr<models::NetworkImpl> model;
  models::Task task;
  train::Precision precision;
};
LoadedModel load_model_from_checkpoint(const std::filesystem::path& path);

/// What `--resume auto` found in a run folder.
struct AutoResume {
  bool finished = false;                       // the manifest says so: nothing to do
  std::optional<train::Checkpoint> checkpoint;  // last.pt to continue from, when not finished
  std::filesystem::path path;
};
/// Looks in `run_dir` for a finished run or a last.pt, and logs what it found. A folder started with a
/// config that differs from `exp` in a key that changes the result is refused, the differences named.
AutoResume find_auto_resume(const std::filesystem::path& run_dir, const config::Experiment& exp);

}  // namespace deepl::run::detail
