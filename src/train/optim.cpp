#include "deepl/train/optim.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "deepl/core/error.h"
#include "deepl/train/fused_adam.h"

namespace deepl::train {

using nlohmann::json;

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

std::shared_ptr<torch::optim::Optimizer> make_optimizer(const json& s, const std::vector<ParamGroup>& groups) {
  const std::string type = s.at("type");
  const double lr = s.at("lr"), wd = s.at("weight_decay");
  const auto betas = std::make_tuple(s.at("betas")[0].get<double>(), s.at("betas")[1].get<double>());
  if (type == "sgd") {
    return build<torch::optim::SGD>(
        groups, torch::optim::SGDOptions(lr).momentum(s.at("momentum")).nesterov(s.at("nesterov")).weight_decay(wd));
  }
  if (type == "adam") {
    return build<FusedAdam>(groups, torch::optim::AdamOptions(lr).betas(betas).eps(s.at("eps")).weight_decay(wd));
  }
  if (type == "adamw") {
    return build<FusedAdamW>(groups, torch::optim::AdamWOptions(lr).betas(betas).eps(s.at("eps")).weight_decay(wd));
  }
  throw_usage("/optimizer/type: unknown optimizer \"" + type + "\"");
}

std::shared_ptr<torch::optim::Optimizer> make_optimizer(const json& s, std::vector<torch::Tensor> parameters) {
  return make_optimizer(s, std::vector<ParamGroup>{{std::move(parameters), 1.0, true}});
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr, const std::vector<double>& scales) {
  auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(lr * (g < scales.size() ? scales[g] : 1.0));
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

LrScheduler::LrScheduler(const json& section, double base_lr, int64_t total_epochs, int64_t steps_per_epoch)
    : section_(section),
      type_(section.at("type")),
      base_lr_(base_lr),
      total_epochs_(std::max<int64_t>(1, total_epochs)),
      steps_per_epoch_(std::max<int64_t>(1, steps_per_epoch)),
      warmup_steps_(std::llround(section.at("warmup_epochs").get<double>() * static_cast<double>(steps_per_epoch_))),
      lr_(base_lr),
      plateau_lr_(base_lr) {
  lr_ = scheduled_lr();
}

bool LrScheduler::per_step() const {
  return type_ == "onecycle" || section_.at("interval") == "step" || warmup_steps_ > 0;
}

double LrScheduler::step(const std::map<std::string, double>& metrics) {
  ++epochs_done_;
  if (type_ == "plateau") {
    const std::string monitor = section_.at("monitor");
    const auto it = metrics.find(monitor);
    if (it == metrics.end()) throw_usage("/scheduler/monitor: metric \"" + monitor + "\" is not available");
    const bool higher_is_better = monitor.find("accuracy") != std::string::npos;
    const double value = higher_is_better ? it->second : -it->second;
    if (!has_best_ || value > best_) {
      best_ = value;
      has_best_ = true;
      bad_epochs_ = 0;
    } else if (++bad_epochs_ > section_.at("patience").get<int64_t>()) {
      plateau_lr_ = std::max(section_.at("min_lr").get<double>(), plateau_lr_ * section_.at("factor").get<double>());
      bad_epochs_ = 0;
    }
  }
  lr_ = scheduled_lr();
  return lr_;
}

double LrScheduler::step_batch() {
  ++steps_done_;
  if (per_step()) lr_ = scheduled_lr();
  return lr_;
}

std::optional<double> LrScheduler::momentum() const {
  if (type_ != "onecycle" || !section_.at("cycle_momentum").get<bool>()) return std::nullopt;
  const double base = section_.at("base_momentum"), max = section_.at("max_momentum");
  return one_cycle(max, base, max);
}

double LrScheduler::scheduled_lr() const {
  if (type_ == "onecycle") {
    const double initial = base_lr_ / section_.at("div_factor").get<double>();
    return one_cycle(initial, base_lr_, initial / section_.at("final_div_factor").get<double>());
  }
  const bool by_step = section_.at("interval") == "step";
  // Position in epochs: fractional when stepped per batch, whole epochs otherwise.
  const double epochs = by_step ? static_cast<double>(steps_done_) / static_cast<double>(steps_per_epoch_)
                                : static_cast<double>(epochs_done_);
  const double min_lr = section_.at("min_lr");
  double lr = base_lr_;
  if (type_ == "step") {
    const double decays = std::floor(epochs / section_.at("step_size").get<double>());
    lr = base_lr_ * std::pow(section_.at("gamma").get<double>(), decays);
  } else if (type_ == "cosine") {
    const double warmup = static_cast<double>(warmup_steps_) / static_cast<double>(steps_per_epoch_);
    const double span = static_cast<double>(total_epochs_) - warmup;
    const double t = span > 0 ? std::clamp((epochs - warmup) / span, 0.0, 1.0) : 1.0;
    lr = min_lr + 0.5 * (base_lr_ - min_lr) * (1 + std::cos(M_PI * t));
  } else if (type_ == "plateau") {
    lr = plateau_lr_;
  }
  if (steps_done_ < warmup_steps_) {  // LinearLR(start_factor, end_factor=1, total_iters=warmup_steps)
    const double start = section_.at("warmup_start_factor");
    lr *= start + (1 - start) * static_cast<double>(steps_done_) / static_cast<double>(warmup_steps_);
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
  const double peak_step = section_.at("pct_start").get<double>() * total - 1;
  const double step = std::min(static_cast<double>(steps_done_), total - 1);
  if (step <= peak_step) return anneal(start, peak, step / peak_step);
  const double rest = total - 1 - peak_step;
  return rest > 0 ? anneal(peak, end, (step - peak_step) / rest) : end;
}

json LrScheduler::state() const {
  return {{"epochs_done", epochs_done_}, {"steps_done", steps_done_}, {"lr", lr_}, {"plateau_lr", plateau_lr_},
          {"best", best_}, {"has_best", has_best_}, {"bad_epochs", bad_epochs_}};
}

void LrScheduler::load_state(const json& state) {
  epochs_done_ = state.at("epochs_done");
  lr_ = state.at("lr");
  // Checkpoints from before per-step schedules: whole epochs, and plateau's lr was the lr.
  steps_done_ = state.value("steps_done", epochs_done_ * steps_per_epoch_);
  plateau_lr_ = state.value("plateau_lr", lr_);
  best_ = state.at("best");
  has_best_ = state.at("has_best");
  bad_epochs_ = state.at("bad_epochs");
}

}  // namespace deepl::train
