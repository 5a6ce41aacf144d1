#pragma once
// A training session: one experiment trained, its best checkpoint evaluated on the test set, and
// the reports written. A run folder holds config.json, manifest.json, metrics.{jsonl,csv,json},
// checkpoints/{last,best}.pt and the figures; every file is written atomically.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "deepl/config/config.h"
#include "deepl/config/plan.h"
#include "deepl/dist/world.h"
#include "deepl/eval/metrics.h"
#include "deepl/train/trainer.h"

namespace deepl::run {

struct TrainOptions {
  bool quiet = false;
  std::optional<std::filesystem::path> resume;  // checkpoint to continue from
  /// Continue from the run folder's last.pt when there is one, else start fresh; a finished run is
  /// left as it is (TrainResult::already_finished). Also set by the config's train.resume: "auto".
  bool resume_auto = false;
  std::optional<std::filesystem::path> run_dir;  // default: <output.dir>/<name>
  /// This process's place in a data-parallel job (see dist::world_from_environment); rank 0 alone
  /// writes the run folder.
  dist::WorldInfo world;
  /// Stop after this epoch with last.pt written, keeping the schedule of all train.epochs (0: off):
  /// a successive-halving rung; `--resume` later continues exactly where it paused.
  int64_t pause_after_epoch = 0;
  /// Callbacks added to the run's own (progress, metrics, checkpoints, early stopping): a seam for
  /// tools and tests (fault injection), on every rank.
  std::vector<std::shared_ptr<train::Callback>> callbacks;
};

struct TrainResult {
  std::filesystem::path run_dir;
  std::vector<train::EpochMetrics> history;
  eval::Metrics test;  // of best.pt on the test set
  double wall_seconds = 0;
  int threads = 0;
  std::string stop_reason;
  /// False on data-parallel ranks other than 0 (rank 0 alone evaluates `test` and writes reports),
  /// and when a signal stopped the run.
  bool evaluated = true;
  /// SIGINT or SIGTERM when one stopped training (last.pt then holds the exact position), else 0.
  int interrupted_by = 0;
  /// True when the run paused at TrainOptions::pause_after_epoch (not evaluated; manifest status "paused").
  bool paused = false;
  /// --resume auto found the run finished: nothing was trained or written; `test` holds its accuracy.
  bool already_finished = false;
};

/// Trains an experiment, then evaluates its best checkpoint on the test set and writes the reports.
TrainResult train_experiment(const config::Experiment& experiment, const TrainOptions& options);
/// The same for an already planned experiment.
TrainResult train_experiment(const config::ExperimentPlan& plan, const TrainOptions& options);

}  // namespace deepl::run
