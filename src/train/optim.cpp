#include "deepl/train/optim.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "deepl/core/error.h"
#include "deepl/train/fused_adam.h"

namespace deepl::train {

namespace {

template <typename Optim, typename Options>
std::shared_ptr<torch::optim::Optimizer> build(const std::vector<ParamGroup>& groups, const Options& defaults) {
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  for (const auto& g : groups) {
    auto options = std::make_unique<Options>(defaults);
    options->lr(defaults.lr() * g.lr_scale);
    if (!g.weight_decay) options->weight_decay(0.0);
    param_groups.emplace_back(g.parameters, std::move(options));
  }
  return std::make_shared<Optim>(param_groups, defaults);
}

}  // namespace

std::vector<ParamGroup> parameter_groups(const torch::nn::Module& model, double backbone_lr_scale,
                                         const std::string& backbone_prefix, bool no_decay_bias_bn) {
  // head, head without decay, backbone, backbone without decay
  std::vector<ParamGroup> groups = {
      {{}, 1.0, true}, {{}, 1.0, false}, {{}, backbone_lr_scale, true}, {{}, backbone_lr_scale, false}};
  for (const auto& item : model.named_parameters()) {
    const torch::Tensor& p = item.value();
    if (!p.requires_grad()) continue;
    const bool in_backbone = backbone_lr_scale != 1.0 && item.key().rfind(backbone_prefix, 0) == 0;
    const bool no_decay = no_decay_bias_bn && p.dim() < 2;
    groups[(in_backbone ? 2 : 0) + (no_decay ? 1 : 0)].parameters.push_back(p);
  }
  groups.erase(std::remove_if(groups.begin(), groups.end(), [](const ParamGroup& g) { return g.parameters.empty(); }),
               groups.end());
  return groups;
}

std::shared_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerOptions& o, const std::vector<ParamGroup>& groups) {
  const auto betas = std::make_tuple(o.beta1, o.beta2);
  switch (o.type) {
    case OptimizerType::kSgd:
      return build<torch::optim::SGD>(
          groups, torch::optim::SGDOptions(o.lr).momentum(o.momentum).nesterov(o.nesterov).weight_decay(o.weight_decay));
    case OptimizerType::kAdam:
      return build<FusedAdam>(groups,
                              torch::optim::AdamOptions(o.lr).betas(betas).eps(o.eps).weight_decay(o.weight_decay));
    case OptimizerType::kAdamW:
      return build<FusedAdamW>(groups,
                               torch::optim::AdamWOptions(o.lr).betas(betas).eps(o.eps).weight_decay(o.weight_decay));
  }
  throw_usage("/optimizer/type: unknown optimizer");
}

std::shared_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerOptions& options,
                                                        std::vector<torch::Tensor> parameters) {
  return make_optimizer(options, std::vector<ParamGroup>{{std::move(parameters), 1.0, true}});
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr, const std::vector<double>& scales) {
  auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(lr * (g < scales.size() ? scales[g] : 1.0));
}

bool higher_is_better(const std::string& monitor) {
  return monitor.find("accuracy") != std::string::npos || monitor.find("r2") != std::string::npos;
}

double learning_rate(const torch::optim::Optimizer& optimizer) {
  return optimizer.param_groups().at(0).options().get_lr();
}

namespace {

// What OneCycleLR cycles in a group: SGD's momentum, or Adam's and AdamW's first beta.
double& momentum_of(torch::optim::OptimizerOptions& options) {
  if (auto* sgd = dynamic_cast<torch::optim::SGDOptions*>(&options)) return sgd->momentum();
  if (auto* adam = dynamic_cast<torch::optim::AdamOptions*>(&options)) return std::get<0>(adam->betas());
  if (auto* adamw = dynamic_cast<torch::optim::AdamWOptions*>(&options)) return std::get<0>(adamw->betas());
  throw_usage("/scheduler/cycle_momentum: this optimizer has no momentum to cycle");
}

}  // namespace

void set_momentum(torch::optim::Optimizer& optimizer, double momentum) {
  for (auto& group : optimizer.param_groups()) momentum_of(group.options()) = momentum;
}

double momentum(torch::optim::Optimizer& optimizer) { return momentum_of(optimizer.param_groups().at(0).options()); }

LrScheduler::LrScheduler(SchedulerOptions options, double base_lr, int64_t total_epochs, int64_t steps_per_epoch)
    : options_(std::move(options)),
      base_lr_(base_lr),
      total_epochs_(std::max<int64_t>(1, total_epochs)),
      steps_per_epoch_(std::max<int64_t>(1, steps_per_epoch)),
      warmup_steps_(std::llround(options_.warmup_epochs * static_cast<double>(steps_per_epoch_))) {
  state_.lr = state_.plateau_lr = base_lr;
  state_.lr = scheduled_lr();
}

bool LrScheduler::per_step() const {
  return options_.type == ScheduleType::kOneCycle || options_.per_batch || warmup_steps_ > 0;
}

double LrScheduler::step(const std::map<std::string, double>& metrics) {
  ++state_.epochs_done;
  if (options_.type == ScheduleType::kPlateau) {
    const std::string& monitor = options_.monitor;
    const auto it = metrics.find(monitor);
    if (it == metrics.end()) throw_usage("/scheduler/monitor: metric \"" + monitor + "\" is not available");
    const double value = higher_is_better(monitor) ? it->second : -it->second;
    if (!state_.has_best || value > state_.best) {
      state_.best = value;
      state_.has_best = true;
      state_.bad_epochs = 0;
    } else if (++state_.bad_epochs > options_.patience) {
      state_.plateau_lr = std::max(options_.min_lr, state_.plateau_lr * options_.factor);
      state_.bad_epochs = 0;
    }
  }
  state_.lr = scheduled_lr();
  return state_.lr;
}

double LrScheduler::step_batch() {
  ++state_.steps_done;
  if (per_step()) state_.lr = scheduled_lr();
  return state_.lr;
}

std::optional<double> LrScheduler::momentum() const {
  if (options_.type != ScheduleType::kOneCycle || !options_.cycle_momentum) return std::nullopt;
  return one_cycle(options_.max_momentum, options_.base_momentum, options_.max_momentum);
}

double LrScheduler::scheduled_lr() const {
  if (options_.type == ScheduleType::kOneCycle) {
    const double initial = base_lr_ / options_.div_factor;
    return one_cycle(initial, base_lr_, initial / options_.final_div_factor);
  }
  // Position in epochs: fractional when stepped per batch, whole epochs otherwise.
  const double epochs = options_.per_batch
                            ? static_cast<double>(state_.steps_done) / static_cast<double>(steps_per_epoch_)
                            : static_cast<double>(state_.epochs_done);
  const double min_lr = options_.min_lr;
  double lr = base_lr_;
  if (options_.type == ScheduleType::kStep) {
    const double decays = std::floor(epochs / static_cast<double>(options_.step_size));
    lr = base_lr_ * std::pow(options_.gamma, decays);
  } else if (options_.type == ScheduleType::kCosine) {
    const double warmup = static_cast<double>(warmup_steps_) / static_cast<double>(steps_per_epoch_);
    const double span = static_cast<double>(total_epochs_) - warmup;
    const double t = span > 0 ? std::clamp((epochs - warmup) / span, 0.0, 1.0) : 1.0;
    lr = min_lr + 0.5 * (base_lr_ - min_lr) * (1 + std::cos(M_PI * t));
  } else if (options_.type == ScheduleType::kPlateau) {
    lr = state_.plateau_lr;
  }
  if (state_.steps_done < warmup_steps_) {  // LinearLR(start_factor, end_factor=1, total_iters=warmup_steps)
    const double start = options_.warmup_start_factor;
    lr *= start + (1 - start) * static_cast<double>(state_.steps_done) / static_cast<double>(warmup_steps_);
  }
  return lr;
}

// OneCycleLR(max_lr=lr, total_steps, pct_start, anneal_strategy="cos")'s two phases: from `start`
// to `peak` while the lr rises, then to `end` (the lr: initial, max, min lr; the momentum: max,
// base, max momentum).
double LrScheduler::one_cycle(double start, double peak, double end) const {
  const auto anneal = [](double from, double to, double pct) {
    return to + (from - to) / 2.0 * (std::cos(M_PI * pct) + 1);
  };
  const double total = static_cast<double>(total_epochs_ * steps_per_epoch_);
  const double peak_step = options_.pct_start * total - 1;
  const double step = std::min(static_cast<double>(state_.steps_done), total - 1);
  if (step <= peak_step) return anneal(start, peak, step / peak_step);
  const double rest = total - 1 - peak_step;
  return rest > 0 ? anneal(peak, end, (step - peak_step) / rest) : end;
}

SchedulerState LrScheduler::state() const { return state_; }

void LrScheduler::load_state(const SchedulerState& state) { state_ = state; }

}  // namespace deepl::train
