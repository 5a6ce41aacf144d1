#pragma once
// The typed, resolved-once form of an experiment. plan_experiment is the one place that reads the
// config's keys; every layer below takes the typed options the plan holds (data, model, optimizer,
// schedule, trainer, evaluation, output, data-parallel). Device and precision are resolved here,
// once, for this machine, and travel with the plan to the trainer, the evaluator and the reports.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "deepl/config/config.h"
#include "deepl/core/device.h"
#include "deepl/core/precision.h"
#include "deepl/data/loader.h"
#include "deepl/data/sources.h"
#include "deepl/dist/replicas.h"
#include "deepl/eval/metrics.h"
#include "deepl/models/registry.h"
#include "deepl/train/callbacks.h"
#include "deepl/train/optim.h"

namespace deepl::config {

enum class NormalizeMode { kTrain, kFixed, kNone };

/// The `data` section: which set, how it is split, batched, normalised and augmented.
struct DataPlan {
  std::string dataset;
  std::filesystem::path root;  // resolved: data.root, else $DEEPL_DATA, else ./data
  data::SourceOptions source;  // where the examples come from (data::load_split)
  double val_fraction = 0.1;
  bool stratified = true;
  int64_t train_limit = 0;  // 0: the whole training split
  NormalizeMode normalize = NormalizeMode::kTrain;
  data::Normalization fixed_normalization;  // NormalizeMode::kFixed
  int64_t batch_size = 64, eval_batch_size = 1000;
  bool drop_last = false;
  data::AugmentationOptions augmentation;
  std::vector<int64_t> progressive_sizes;
};

/// The `model` section: the registry builds it from `options` (its plug-in interface stays JSON).
struct ModelPlan {
  std::string type;
  nlohmann::json options;  // the validated section, "type" included
  models::Task task = models::Task::kClassification;
  std::filesystem::path pretrained;  // backbone weights loaded after building ("" : none)
  bool cache_features = false;       // a frozen backbone's features are computed once and cached
};

/// The `train` section's loop settings besides what the trainer's own options hold.
struct TrainPlan {
  int64_t epochs = 10;
  double grad_clip = 0.0, label_smoothing = 0.0;
  double ema_decay = 0.0;
  bool ema_warmup = true;
  std::string early_stopping_monitor = "val_accuracy";
  int64_t early_stopping_patience = 0;
  double early_stopping_min_delta = 0.0;
  std::string checkpoint_monitor = "val_accuracy";
  train::CheckpointSchedule checkpoint;
  int64_t log_every = 0;
  bool resume_auto = false;  // train.resume "auto"
};

/// The `expect` section: what `deepl reproduce` holds the run to.
struct ExpectPlan {
  std::optional<double> published, test_accuracy;
  std::optional<double> minutes_bf16, minutes_fp32;  // time budgets where precision resolves to each
};

struct ExperimentPlan {
  Experiment experiment;  // the resolved JSON: what run folders and checkpoints store
  DeviceChoice device;
  deepl::Precision precision;
  DataPlan data;
  ModelPlan model;
  train::OptimizerOptions optimizer;
  train::SchedulerOptions scheduler;
  TrainPlan train;
  eval::TestTimeAugmentation tta;
  std::filesystem::path output_dir;
  dist::ReplicaOptions distributed;
  ExpectPlan expect;
  std::string description;

  const std::string& name() const { return experiment.name; }
  uint64_t seed() const { return experiment.seed; }
  /// The trainer's options for `num_classes` classes (data-dependent fields are the caller's).
  train::TrainerOptions trainer_options(int64_t num_classes) const;
};

/// Reads every key of a resolved experiment into its typed plan, and resolves the device and the
/// precision for this machine (warning when bf16 was asked for on a CPU without native bf16).
ExperimentPlan plan_experiment(const Experiment& experiment);

}  // namespace deepl::config
