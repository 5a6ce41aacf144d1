#pragma once
// The standard callbacks of the fit loop: progress display, metrics files, checkpoints, early
// stopping. Each is independent; the run assembles the ones it wants.
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "deepl/report/progress.h"
#include "deepl/train/trainer.h"

namespace deepl::train {

/// Progress bar per epoch (batch, loss, accuracy, examples/s, ETA) and an epoch summary line.
class ProgressCallback : public Callback {
 public:
  ProgressCallback(bool quiet, int64_t log_every) : quiet_(quiet), log_every_(log_every) {}
  void on_epoch_start(Trainer& trainer, int64_t epoch, int64_t batches) override;
  void on_batch_end(Trainer& trainer, const BatchProgress& progress) override;
  void on_epoch_end(Trainer& trainer, const EpochMetrics& metrics) override;
  void on_interrupt(Trainer& trainer) override;

 private:
  bool quiet_;
  int64_t log_every_;
  std::unique_ptr<report::ProgressBar> bar_;
};

/// Rewrites <dir>/metrics.jsonl and <dir>/metrics.csv (atomically) after every epoch.
class MetricsWriter : public Callback {
 public:
  explicit MetricsWriter(std::filesystem::path dir) : dir_(std::move(dir)) {}
  void on_epoch_end(Trainer& trainer, const EpochMetrics& metrics) override;

 private:
  std::filesystem::path dir_;
};


/// When a Checkpointer writes last.pt.
struct CheckpointSchedule {
  int64_t every_epochs = 1;  // at the end of every N-th epoch, and at the end of training
  int64_t every_steps = 0;   // also mid-epoch, every N optimizer steps (0: off)
  double every_seconds = 0;  // also mid-epoch, once this long has passed since the last write (0: off)
  /// Time-based writes are spaced so that writing takes at most this fraction of the time between them.
  double max_overhead = 0.05;
};

/// Writes <dir>/last.pt on `schedule` and <dir>/best.pt when `monitor` improves. `meta` supplies the
/// run's own metadata (config, data statistics). `model` is what is saved when it differs from what
/// the trainer optimises (a head trained on cached features). Mid-epoch files hold the exact position,
/// so a resume continues from that step. Logs what writing cost at the end of training.
class Checkpointer : public Callback {
 public:
  Checkpointer(std::filesystem::path dir, std::string monitor, CheckpointSchedule schedule,
               std::function<nlohmann::json()> meta, std::shared_ptr<models::NetworkImpl> model = nullptr);
  std::string name() const override { return "checkpointer"; }
  void on_fit_start(Trainer& trainer) override;
  void on_epoch_end(Trainer& trainer, const EpochMetrics& metrics) override;
  void on_fit_end(Trainer& trainer) override;
  /// Writes last.pt, mid-epoch position included, so --resume continues from the stopped step.
  void on_interrupt(Trainer& trainer) override;
  bool snapshot_due(Trainer& trainer, int64_t step) override;
  void on_snapshot(Trainer& trainer) override;
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& state) override;
  /// Writes a checkpoint of the trainer's current state to `path`. When the trainer keeps a weight
  /// average, `averaged` stores it as the model's weights (best.pt: what validation measured),
  /// else the trained weights with the average next to them (last.pt: what a resume needs).
  void save(Trainer& trainer, const std::filesystem::path& path, bool averaged = false) const;

 private:
  using Clock = std::chrono::steady_clock;
  void write_last(Trainer& trainer);
  void timed_save(Trainer& trainer, const std::filesystem::path& path, bool averaged = false);

  std::filesystem::path dir_;
  std::string monitor_;
  CheckpointSchedule schedule_;
  std::function<nlohmann::json()> meta_;
  std::shared_ptr<models::NetworkImpl> model_;
  std::optional<double> best_;
  int64_t last_saved_epoch_ = 0;
  Clock::time_point fit_start_, last_write_;
  double last_cost_ = 0, total_cost_ = 0;  // seconds spent writing checkpoints
  int64_t writes_ = 0;
  bool warned_overhead_ = false;
};

/// Stops when `monitor` has not improved by more than min_delta for `patience` epochs.
class EarlyStopping : public Callback {
 public:
  EarlyStopping(std::string monitor, int64_t patience, double min_delta)
      : monitor_(std::move(monitor)), patience_(patience), min_delta_(min_delta) {}
  std::string name() const override { return "early_stopping"; }
  void on_epoch_end(Trainer& trainer, const EpochMetrics& metrics) override;
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& state) override;

 private:
  std::string monitor_;
  int64_t patience_;
  double min_delta_;
  std::optional<double> best_;
  int64_t bad_epochs_ = 0;
};

}  // namespace deepl::train
