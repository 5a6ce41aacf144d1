#include "deepl/train/optim.h"

#include <torch/torch.h>

#include <cmath>

#include "deepl/core/error.h"

namespace deepl::train {

using nlohmann::json;

std::shared_ptr<torch::optim::Optimizer> make_optimizer(const json& s, std::vector<torch::Tensor> parameters) {
  const std::string type = s.at("type");
  const double lr = s.at("lr"), wd = s.at("weight_decay");
  const auto betas = std::make_tuple(s.at("betas")[0].get<double>(), s.at("betas")[1].get<double>());
  if (type == "sgd") {
    return std::make_shared<torch::optim::SGD>(
        parameters, torch::optim::SGDOptions(lr).momentum(s.at("momentum")).nesterov(s.at("nesterov")).weight_decay(wd));
  }
  if (type == "adam") {
    return std::make_shared<torch::optim::Adam>(
        parameters, torch::optim::AdamOptions(lr).betas(betas).eps(s.at("eps")).weight_decay(wd));
  }
  if (type == "adamw") {
    return std::make_shared<torch::optim::AdamW>(
        parameters, torch::optim::AdamWOptions(lr).betas(betas).eps(s.at("eps")).weight_decay(wd));
  }
  throw_usage("/optimizer/type: unknown optimizer \"" + type + "\"");
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

double learning_rate(const torch::optim::Optimizer& optimizer) {
  return optimizer.param_groups().at(0).options().get_lr();
}

LrScheduler::LrScheduler(const json& section, double base_lr, int64_t total_epochs)
    : section_(section), base_lr_(base_lr), total_epochs_(total_epochs), lr_(base_lr) {}

double LrScheduler::step(const std::map<std::string, double>& metrics) {
  ++epochs_done_;
  const std::string type = section_.at("type");
  const double min_lr = section_.at("min_lr");
  if (type == "step") {
    const int64_t decays = epochs_done_ / section_.at("step_size").get<int64_t>();
    lr_ = base_lr_ * std::pow(section_.at("gamma").get<double>(), static_cast<double>(decays));
  } else if (type == "cosine") {
    const double t = std::min(1.0, static_cast<double>(epochs_done_) / static_cast<double>(std::max<int64_t>(1, total_epochs_)));
    lr_ = min_lr + 0.5 * (base_lr_ - min_lr) * (1 + std::cos(M_PI * t));
  } else if (type == "plateau") {
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
      lr_ = std::max(min_lr, lr_ * section_.at("factor").get<double>());
      bad_epochs_ = 0;
    }
  }
  return lr_;
}

json LrScheduler::state() const {
  return {{"epochs_done", epochs_done_}, {"lr", lr_}, {"best", best_}, {"has_best", has_best_}, {"bad_epochs", bad_epochs_}};
}

void LrScheduler::load_state(const json& state) {
  epochs_done_ = state.at("epochs_done");
  lr_ = state.at("lr");
  best_ = state.at("best");
  has_best_ = state.at("has_best");
  bad_epochs_ = state.at("bad_epochs");
}

}  // namespace deepl::train
