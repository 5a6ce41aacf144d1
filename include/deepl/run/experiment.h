#pragma once
// Whole runs, assembled from the library's pieces: what `deepl train|eval|predict` and the
// notebook apps call. A run folder holds config.json, manifest.json, metrics.{jsonl,csv,json},
// checkpoints/{last,best}.pt and the figures; every file is written atomically.
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "deepl/config/config.h"
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

struct EvalOptions {
  std::string split = "test";  // test | val
  std::optional<std::filesystem::path> out_dir;  // default: <run dir>/eval-<split>
  int threads = 0;
  bool quiet = false;
  /// Test-time augmentation in place of the run's eval.tta ("hflip", "shift"; empty: none).
  std::optional<std::vector<std::string>> tta;
};

/// Rebuilds the model from a checkpoint alone, evaluates it and writes metrics and figures.
eval::Metrics evaluate_checkpoint(const std::filesystem::path& checkpoint, const EvalOptions& options);

struct PredictOptions {
  int top_k = 3;
  bool recursive = false;         // a folder input: its sub-folders too
  std::string invert = "auto";    // image inputs: auto | yes | no (see data::FramingOptions)
  std::string format = "jsonl";   // jsonl | table
  /// Where to write what the model saw, as PNGs (before normalisation), named after the inputs.
  std::optional<std::filesystem::path> save_inputs;
};

struct PredictSummary {
  int64_t predicted = 0;
  int64_t failed = 0;  // image files that could not be read or framed (one error line each)
};

/// Predicts the top-k classes of every image in `input`: an IDX file of images (one JSON line per
/// index), an image file (PNG, JPEG, BMP, PGM/PPM) or a folder of them (sorted; one line per file).
/// Images are framed as the checkpoint's data set was (data::frame_image) and normalised with the
/// statistics stored in the checkpoint. A bad image file is logged and counted, the others predicted.
PredictSummary predict(const std::filesystem::path& checkpoint, const std::filesystem::path& input,
                       const PredictOptions& options, std::ostream& out);

/// Writes a checkpoint's weights as a PyTorch state dict (torch.load returns it; the equivalent
/// PyTorch model's load_state_dict(strict=True) accepts it).
void export_weights(const std::filesystem::path& checkpoint, const std::filesystem::path& out);

/// The layer table of the experiment's model (shapes, parameters, FLOPs).
std::string model_summary(const config::Experiment& experiment);

/// What a run's manifest records besides the config.
struct RunFacts {
  std::string started;  // ISO 8601
  int threads = 0;
  std::string device;     // "cpu (auto: LibTorch built without CUDA)"
  std::string precision;  // what was chosen and why: "fp32 (auto: CPU has no native bf16)"
  dist::WorldInfo world;
  nlohmann::json communication;  // data-parallel all-reduce figures (null for one process)
};

/// Writes the manifest: seed, threads, device, precision, CPU, world size, versions, git commit, host, times, status.
void write_manifest(const std::filesystem::path& run_dir, const config::Experiment& experiment, const RunFacts& facts,
                    const std::string& status, double wall_seconds);

}  // namespace deepl::run
