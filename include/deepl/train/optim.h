#pragma once
// Optimizer and learning-rate schedule factories from the validated config sections.
// The schedules are deepl's own (LibTorch 1.13's have no state save/load): their state is JSON,
// stored in checkpoints, so a resumed run follows the same schedule.
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace deepl::train {

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
/// Builds the optimizer an `optimizer` config section describes; group g's learning rate is
/// section.lr x groups[g].lr_scale.
std::shared_ptr<torch::optim::Optimizer> make_optimizer(const nlohmann::json& section,
                                                        const std::vector<ParamGroup>& groups);
/// The same over one group of parameters.
std::shared_ptr<torch::optim::Optimizer> make_optimizer(const nlohmann::json& section,
                                                        std::vector<torch::Tensor> parameters);
/// Sets group g's learning rate to lr x scales[g] (every scale 1 when `scales` is empty).
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr, const std::vector<double>& scales = {});
/// The learning rate of the first parameter group (the head's).
double learning_rate(const torch::optim::Optimizer& optimizer);
/// Sets every group's momentum: SGD's `momentum`, Adam's and AdamW's first beta (what OneCycleLR
/// cycles).
void set_momentum(torch::optim::Optimizer& optimizer, double momentum);
/// The momentum (or first beta) of the first parameter group.
double momentum(torch::optim::Optimizer& optimizer);

/// Learning-rate schedule of a `scheduler` config section: none, step, cosine (to min_lr over the
/// run), plateau, each per epoch or (interval "step") per batch, after an optional linear warm-up;
/// or onecycle, always per batch. The shapes are PyTorch's: LinearLR for the warm-up, then
/// CosineAnnealingLR over the remaining steps (as SequentialLR chains them); OneCycleLR with
/// cosine annealing, including its inverse cycle of the momentum (`cycle_momentum`).
class LrScheduler {
 public:
  LrScheduler(const nlohmann::json& section, double base_lr, int64_t total_epochs, int64_t steps_per_epoch = 1);
  /// The lr for the next epoch, given the metrics of the epoch that just ended.
  double step(const std::map<std::string, double>& metrics);
  /// Counts one optimizer step; returns the lr for the next one.
  double step_batch();
  /// Whether the lr changes between batches (step_batch's value must then be applied).
  bool per_step() const;
  double lr() const { return lr_; }
  /// The momentum (Adam: first beta) for the next step while onecycle cycles it; empty otherwise.
  std::optional<double> momentum() const;
  nlohmann::json state() const;
  void load_state(const nlohmann::json& state);

 private:
  double scheduled_lr() const;
  double one_cycle(double start, double peak, double end) const;

  nlohmann::json section_;
  std::string type_;
  double base_lr_;
  int64_t total_epochs_;
  int64_t steps_per_epoch_;
  int64_t warmup_steps_;
  int64_t epochs_done_ = 0;
  int64_t steps_done_ = 0;
  double lr_;
  double plateau_lr_;  // plateau: the lr after its decays so far
  double best_ = 0;
  bool has_best_ = false;
  int64_t bad_epochs_ = 0;
};

}  // namespace deepl::train
