#pragma once
// The fit loop, kept apart from models and data sources: a Trainer owns a model, an optimizer and
// an optional schedule, runs epochs over a BatchLoader and tells its callbacks what happened.
// Progress, metrics files, checkpoints and early stopping are callbacks (see callbacks.h).
#include <torch/optim/optimizer.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>  // checkpoint state only: what checkpoints store

#include "deepl/data/loader.h"
#include "deepl/eval/metrics.h"
#include "deepl/models/network.h"
#include "deepl/models/registry.h"
#include "deepl/train/ema.h"
#include "deepl/train/optim.h"
#include "deepl/core/precision.h"

namespace deepl::train {

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0;
  std::optional<double> train_accuracy;  // classification only
  std::optional<double> val_loss, val_accuracy, val_r2;  // with a validation split; accuracy or r2 by task
  double lr = 0;
  double seconds = 0;
  double examples_per_second = 0;

  /// The metrics by name (train_loss, and train_accuracy, val_loss, val_accuracy, val_r2 when present).
  std::map<std::string, double> by_name() const;
  nlohmann::json to_json() const;
  static EpochMetrics from_json(const nlohmann::json& j);
};

/// What a callback sees after each training batch.
struct BatchProgress {
  int64_t epoch = 0, batch = 0, batches = 0;  // batch is 1-based
  int64_t examples = 0;                        // examples seen this epoch (this rank's x world size)
  double mean_loss = 0;                        // running over the epoch; refreshed every few batches
  std::optional<double> accuracy;              // likewise; classification only
  double seconds = 0;                          // since the epoch started
};

class Trainer;

class Callback {
 public:
  virtual ~Callback() = default;
  /// Name under which the callback's state is saved in checkpoints ("" = stateless).
  virtual std::string name() const { return ""; }
  virtual void on_fit_start(Trainer&) {}
  virtual void on_epoch_start(Trainer&, int64_t /*epoch*/, int64_t /*batches*/) {}
  virtual void on_batch_end(Trainer&, const BatchProgress&) {}
  /// After every optimizer step; `step` counts optimizer steps from the start of training (1-based).
  virtual void on_step_end(Trainer&, int64_t /*step*/) {}
  virtual void on_epoch_end(Trainer&, const EpochMetrics&) {}
  virtual void on_fit_end(Trainer&) {}
  /// The loop stopped mid-epoch on a signal, after finishing a step (see TrainerOptions::stop_signal).
  virtual void on_interrupt(Trainer&) {}
  /// Asked after every step but an epoch's last: whether to take a mid-epoch snapshot now. `step`
  /// counts optimizer steps from the start of training (1-based). Any rank's yes is everyone's.
  virtual bool snapshot_due(Trainer&, int64_t /*step*/) { return false; }
  /// The loop is paused after a step with Trainer::state() holding the exact position in the epoch
  /// (summed over ranks); the callback may save it. Training then goes on.
  virtual void on_snapshot(Trainer&) {}
  /// The callback's state as checkpoints store it (null: none).
  virtual nlohmann::json state() const;
  virtual void load_state(const nlohmann::json& state);
};

/// What each rank says after a step; the group acts on the logical OR of every rank's votes.
struct StepVotes {
  bool stop = false;      // a signal arrived: stop after this step
  bool snapshot = false;  // a callback wants a mid-epoch checkpoint of this step
};

/// The data-parallel group a Trainer belongs to (implemented over c10d in deepl/dist). Every rank
/// runs the same loop on its shard of each global batch; the trainer calls these at the same points
/// on every rank, so they may be collectives.
class Replicas {
 public:
  virtual ~Replicas() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  /// Sums every parameter's gradient across ranks, in place (an undefined gradient counts as zeros).
  /// Each rank's loss is already divided by the global batch size, so the sum is the global mean.
  /// Also a vote: returns on every rank the OR of all ranks' votes, so all act at the same step.
  virtual StepVotes reduce_gradients(const std::vector<torch::Tensor>& parameters, StepVotes votes) = 0;
  /// Sums each tensor across ranks, in place.
  virtual void sum(std::vector<torch::Tensor>& tensors) = 0;
  /// Overwrites each tensor with rank 0's values.
  virtual void broadcast(std::vector<torch::Tensor>& tensors) = 0;
};

struct TrainerOptions {
  int64_t epochs = 1;
  double grad_clip = 0.0;  // max gradient norm; 0: off
  double label_smoothing = 0.0;  // of the training loss (classification), as nn.CrossEntropyLoss(label_smoothing=)
  eval::TestTimeAugmentation tta;  // validate with test-time augmentation
  /// Keep an exponential moving average of the weights with this decay (0: none); validation then
  /// uses the average (see ema.h).
  double ema_decay = 0.0;
  bool ema_warmup = true;
  models::Task task = models::Task::kClassification;
  int64_t num_classes = 10;
  int64_t refresh_every = 10;  // batches between reads of the running loss (a sync point)
  deepl::Precision precision;
  /// Polled after every step: a non-zero signal number stops the loop there; the state then
  /// records the position in the epoch, so a checkpoint of it resumes exactly (see signals.h).
  std::function<int()> stop_signal;
  /// Per optimizer parameter group, its multiple of the scheduled learning rate (empty: all 1).
  std::vector<double> lr_scales;
  /// Pause after this epoch (0: never) as if stopped between epochs, checkpoints written, keeping the
  /// schedule of all `epochs`: a successive-halving rung that a later resume continues.
  int64_t pause_after_epoch = 0;
};

class Trainer {
 public:
  Trainer(std::shared_ptr<models::NetworkImpl> model, std::shared_ptr<torch::optim::Optimizer> optimizer,
          std::shared_ptr<LrScheduler> scheduler, TrainerOptions options);

  void add_callback(std::shared_ptr<Callback> callback);
  /// Makes this trainer one replica of a data-parallel group: fit() starts from rank 0's weights,
  /// gradients and epoch metrics are combined across ranks, validation runs on each rank's shard.
  void set_replicas(std::shared_ptr<Replicas> replicas);

  /// Trains from epoch completed_epochs()+1 to options.epochs (or until a callback stops it),
  /// evaluating on `val` after each epoch when given. Throws on a non-finite loss.
  void fit(data::BatchLoader& train, const data::BatchLoader* val);
  /// Asks the loop to stop after the current epoch.
  void request_stop(const std::string& reason);

  models::NetworkImpl& model() { return *model_; }
  std::shared_ptr<models::NetworkImpl> model_ptr() { return model_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  LrScheduler* scheduler() { return scheduler_.get(); }
  /// The weight average (null unless options.ema_decay > 0).
  WeightAverage* weight_average() { return ema_.get(); }
  const TrainerOptions& options() const { return options_; }
  const std::vector<EpochMetrics>& history() const { return history_; }
  int64_t completed_epochs() const { return static_cast<int64_t>(history_.size()); }
  const std::string& stop_reason() const { return stop_reason_; }
  /// The signal that stopped fit() before its last epoch, or 0.
  int interrupted_by() const { return interrupted_by_; }
  /// True when fit() stopped at options.pause_after_epoch, before the last epoch.
  bool paused() const { return paused_; }

  /// Loop state for checkpoints: history, every named callback's state and, after an interrupt,
  /// the position in the unfinished epoch with its running totals (summed over ranks).
  nlohmann::json state() const;
  void load_state(const nlohmann::json& state);

 private:
  // Where an interrupted epoch stopped: batches done and the running totals so far.
  struct EpochPosition {
    int64_t epoch = 0, batches_done = 0, correct = 0, seen = 0;
    double loss_total = 0;
    double seconds = 0;
  };

  bool classifies() const { return options_.task != models::Task::kRegression; }
  EpochMetrics train_epoch(data::BatchLoader& train, int64_t epoch);
  // One batch's forward and backward pass; adds its summed loss and correct predictions.
  void forward_backward(const data::Batch& batch, torch::Tensor& loss_total, torch::Tensor& correct);
  // Clips, steps the optimizer, updates the weight average and the per-step schedule.
  void step_optimizer();
  // The epoch's metrics from this rank's totals, summed over ranks.
  EpochMetrics epoch_metrics(int64_t epoch, const torch::Tensor& loss_total, const torch::Tensor& correct, int64_t seen,
                             double seconds);
  bool stop_requested_by_signal();
  bool snapshot_due(int64_t step);
  void take_snapshot(const EpochPosition& position);
  bool stop_between_epochs();
  void sum_position_over_ranks();
  eval::Metrics validate(const data::BatchLoader& val);
  void start_from_rank0_weights();
  // Sets the optimizer's learning rate (scaled per group) and, while the schedule cycles it, momentum.
  void apply_schedule(double lr);

  std::shared_ptr<models::NetworkImpl> model_;
  std::shared_ptr<torch::optim::Optimizer> optimizer_;
  std::shared_ptr<LrScheduler> scheduler_;
  std::unique_ptr<WeightAverage> ema_;
  TrainerOptions options_;
  std::vector<std::shared_ptr<Callback>> callbacks_;
  std::shared_ptr<Replicas> replicas_;
  std::vector<torch::Tensor> parameters_;
  std::vector<EpochMetrics> history_;
  bool stop_requested_ = false;
  std::string stop_reason_;
  int interrupted_by_ = 0;
  bool paused_ = false;
  std::optional<EpochPosition> position_;  // set while an interrupted epoch is pending
};

}  // namespace deepl::train
