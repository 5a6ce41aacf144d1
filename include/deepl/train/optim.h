#pragma once
// Optimizer and learning-rate schedule factories from typed options (config::ExperimentPlan fills
// them from the `optimizer` and `scheduler` sections). The schedules are deepl's own (LibTorch
// 1.13's have no state save/load): their state is stored in checkpoints, so a resumed run follows
// the same schedule.
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace deepl::train {

enum class OptimizerType { kSgd, kAdam, kAdamW };

/// An `optimizer` config section, typed.
struct OptimizerOptions {
  OptimizerType type = OptimizerType::kAdam;
  double lr = 1e-3;
  double weight_decay = 0.0;  // L2 penalty; decoupled for AdamW
  double momentum = 0.0;      // SGD
  bool nesterov = false;      // SGD
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam, AdamW
  double backbone_lr_scale = 1.0;  // lr multiplier of a pretrained backbone's parameters
  bool no_decay_bias_bn = false;   // no weight decay on parameters of fewer than 2 dimensions
};

enum class ScheduleType { kNone, kStep, kCosine, kPlateau, kOneCycle };

/// A `scheduler` config section, typed (see the config reference for each field's meaning).
struct SchedulerOptions {
  ScheduleType type = ScheduleType::kNone;
  bool per_batch = false;  // interval "step": step and cosine change the lr after every batch
  double warmup_epochs = 0.0, warmup_start_factor = 0.1;
  double pct_start = 0.3, div_factor = 25.0, final_div_factor = 1e4;  // onecycle
  bool cycle_momentum = true;
  double base_momentum = 0.85, max_momentum = 0.95;
  int64_t step_size = 10;  // step
  double gamma = 0.1;      // step
  double min_lr = 0.0;     // cosine, plateau
  double factor = 0.1;     // plateau
  int64_t patience = 2;    // plateau
  std::string monitor = "val_loss";  // plateau

  /// Whether any schedule is asked for (a warm-up alone counts).
  bool enabled() const { return type != ScheduleType::kNone || warmup_epochs > 0; }
};

/// Where a schedule stands: what checkpoints store so a resume continues it.
struct SchedulerState {
  int64_t epochs_done = 0, steps_done = 0;
  double lr = 0, plateau_lr = 0;
  double best = 0;
  bool has_best = false;
  int64_t bad_epochs = 0;
};

/// Parameters that share a learning-rate multiplier.
struct ParamGroup {
  std::vector<torch::Tensor> parameters;
  double lr_scale = 1.0;
  bool weight_decay = true;  // false: the optimizer's weight_decay is 0 for this group
};

/// The trainable parameters of `model` (requires_grad) in groups: the head first (scale 1), then,
/// when `backbone_lr_scale` is not 1, those named under `backbone_prefix` (a pretrained VGG's
/// "features.") with that scale. With `no_decay_bias_bn`, each of those is split in two: the
/// weights of convolutions and linear layers, then (without weight decay) biases and batch-norm
/// parameters, i.e. every parameter with fewer than two dimensions, as timm's
/// param_groups_weight_decay. Empty groups are left out.
std::vector<ParamGroup> parameter_groups(const torch::nn::Module& model, double backbone_lr_scale,
                                         const std::string& backbone_prefix = "features.",
                                         bool no_decay_bias_bn = false);
/// Builds the optimizer `options` describe; group g's learning rate is options.lr x groups[g].lr_scale.
std::shared_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerOptions& options,
                                                        const std::vector<ParamGroup>& groups);
/// The same over one group of parameters.
std::shared_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerOptions& options,
                                                        std::vector<torch::Tensor> parameters);
/// Sets group g's learning rate to lr x scales[g] (every scale 1 when `scales` is empty).
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr, const std::vector<double>& scales = {});
/// The learning rate of the first parameter group (the head's).
double learning_rate(const torch::optim::Optimizer& optimizer);
/// Whether a larger value of `monitor` is better (accuracies, r2) or a smaller one (losses).
bool higher_is_better(const std::string& monitor);
/// Sets every group's momentum: SGD's `momentum`, Adam's and AdamW's first beta (what OneCycleLR
/// cycles).
void set_momentum(torch::optim::Optimizer& optimizer, double momentum);
/// The momentum (or first beta) of the first parameter group.
double momentum(torch::optim::Optimizer& optimizer);

/// Learning-rate schedule: none, step, cosine (to min_lr over the
/// run), plateau, each per epoch or (interval "step") per batch, after an optional linear warm-up;
/// or onecycle, always per batch. The shapes are PyTorch's: LinearLR for the warm-up, then
/// CosineAnnealingLR over the remaining steps (as SequentialLR chains them); OneCycleLR with
/// cosine annealing, including its inverse cycle of the momentum (`cycle_momentum`).
class LrScheduler {
 public:
  LrScheduler(SchedulerOptions options, double base_lr, int64_t total_epochs, int64_t steps_per_epoch = 1);
  /// The lr for the next epoch, given the metrics of the epoch that just ended.
  double step(const std::map<std::string, double>& metrics);
  /// Counts one optimizer step; returns the lr for the next one.
  double step_batch();
  /// Whether the lr changes between batches (step_batch's value must then be applied).
  bool per_step() const;
  double lr() const { return state_.lr; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  /// The momentum (Adam: first beta) for the next step while onecycle cycles it; empty otherwise.
  std::optional<double> momentum() const;
  SchedulerState state() const;
  void load_state(const SchedulerState& state);

 private:
  double scheduled_lr() const;
  double one_cycle(double start, double peak, double end) const;

  SchedulerOptions options_;
  double base_lr_;
  int64_t total_epochs_;
  int64_t steps_per_epoch_;
  int64_t warmup_steps_;
  SchedulerState state_;  // state_.plateau_lr: plateau's lr after its decays so far
};

}  // namespace deepl::train
