#pragma once
// A run's data, as its plan names it: either split loaded with a progress bar while a folder
// decodes, and model.type "auto" turned into a model for that data. Internal to the library.
#include <string>

#include "common/data_stats.h"
#include "deepl/config/plan.h"
#include "deepl/data/dataset.h"

namespace deepl::run {

/// The plan's split of its data source; a folder's first decoding shows a progress bar unless `quiet`.
data::Dataset load_plan_split(const config::DataPlan& data, data::Split split, bool quiet = false);

/// The training split's division into training and validation: the source's own (a folder's
/// val/), else data.val_fraction of it, by the plan's seed.
data::SplitIndices validation_split(const data::Dataset& train, const config::ExperimentPlan& plan);

/// The data statistics of the plan's training split, unnormalised: the input shape and classes a
/// model is sized from.
DataStats shape_of_data(const config::ExperimentPlan& plan);

/// The model auto picks for data of this shape, and why: an MLP for a table, the notebook's CNN
/// for small grayscale pictures, else a ResNet (with a downsampling stem above 64 pixels).
struct ModelChoice {
  nlohmann::json model;  // the `model` section
  std::string reason;
};
ModelChoice choose_model(const DataStats& stats);

/// `plan` itself, or re-planned with model.type "auto" replaced by choose_model's pick (logged);
/// for a regression target, set to learn it (task, monitors judged by r2), or refused by name; a
/// TorchScript model's file pinned by its SHA-256 (model.sha256).
config::ExperimentPlan with_model_for_data(const config::ExperimentPlan& plan, const DataStats& stats);
/// Refuses to resume a TorchScript model's checkpoint (whose config is `checkpoint_config`) when
/// the module file changed since it was written.
void check_same_torchscript_file(const std::filesystem::path& checkpoint, const nlohmann::json& checkpoint_config,
                                 const config::ExperimentPlan& plan);

/// Throws a usage error naming the model type and the input shape when `model` cannot take it
/// (tried with one forward pass), before any training.
void check_input_shape(models::NetworkImpl& model, const std::string& type, const models::InputSpec& spec);

}  // namespace deepl::run
