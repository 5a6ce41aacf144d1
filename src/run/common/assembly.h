#pragma once
// A run's pieces built from its typed plan: loaders, the model (on its device, in its layout, with
// its pretrained weights), the checks made before training, and a model rebuilt from a checkpoint.
// Shared by the training session and the checkpoint use cases. Internal to the library.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "common/data_stats.h"
#include "deepl/config/plan.h"
#include "deepl/data/dataset.h"
#include "deepl/data/loader.h"
#include "deepl/dist/world.h"
#include "deepl/models/network.h"

namespace deepl::run {

enum class LoaderUse {
  kTraining,   // data.batch_size, shuffled, augmented, resized progressively
  kEvaluation  // data.eval_batch_size, in order, as the images are
};

data::BatchLoader make_loader(const data::Dataset& dataset, const torch::Tensor& indices, LoaderUse use,
                              const config::ExperimentPlan& plan, const DataStats& stats,
                              const dist::WorldInfo& world = {});
/// The plan's model for `spec`: built by the registry, its pretrained backbone loaded, moved to the
/// plan's device and, where the precision asks, to channels-last.
std::shared_ptr<models::NetworkImpl> build_network(const config::ExperimentPlan& plan, const models::InputSpec& spec);
/// Throws a usage error naming /data/progressive_sizes when `model` cannot take one of its sizes
/// (a flattening model fixed to the images' own size); tries one forward pass at each.
void check_progressive_sizes(models::NetworkImpl& model, const config::ExperimentPlan& plan,
                             const models::InputSpec& spec);
/// Where oneDNN gets this CPU model's gradients wrong (train/onednn_check.h), at the images' size
/// and each of data.progressive_sizes, switches oneDNN off for the process with a warning; returns
/// what was wrong, or "" (also for a model not on the CPU or with oneDNN already off).
std::string avoid_wrong_onednn_gradients(models::NetworkImpl& model, const config::ExperimentPlan& plan,
                                         const models::InputSpec& spec);
double seconds_since(std::chrono::steady_clock::time_point start);

/// A model rebuilt from a checkpoint alone (its embedded config and data statistics), in eval mode
/// on this machine's device.
struct LoadedModel {
  config::ExperimentPlan plan;
  DataStats stats;
  std::shared_ptr<models::NetworkImpl> model;
};
LoadedModel load_model_from_checkpoint(const std::filesystem::path& path);

}  // namespace deepl::run
