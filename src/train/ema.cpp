#include "deepl/train/ema.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "deepl/core/error.h"
#include "deepl/train/checkpoint.h"

namespace deepl::train {

WeightAverage::WeightAverage(const models::NetworkImpl& model, double decay, bool warmup)
    : decay_(decay), warmup_(warmup) {
  reset(model);
}

void WeightAverage::reset(const models::NetworkImpl& model) {
  torch::NoGradGuard no_grad;
  names_.clear();
  average_.clear();
  for (const auto& [name, t] : model_state_dict(model)) {
    names_.push_back(name);
    average_.push_back(t.detach().clone());
  }
  updates_ = 0;
}

double WeightAverage::next_decay() const {
  if (!warmup_) return decay_;
  return std::min(decay_, 1.0 - std::pow(1.0 + static_cast<double>(updates_), -2.0 / 3.0));
}

void WeightAverage::update(const models::NetworkImpl& model) {
  torch::NoGradGuard no_grad;
  const double d = next_decay();
  const auto current = model_state_dict(model);
  for (size_t i = 0; i < names_.size(); ++i) {
    const torch::Tensor& w = current.at(names_[i]);
    if (average_[i].is_floating_point()) {
      average_[i].lerp_(w, 1.0 - d);  // average + (1 - d) * (w - average)
    } else {
      average_[i].copy_(w);
    }
  }
  ++updates_;
}

void WeightAverage::swap(models::NetworkImpl& model) {
  torch::NoGradGuard no_grad;
  const auto current = model_state_dict(model);
  for (size_t i = 0; i < names_.size(); ++i) {
    torch::Tensor live = current.at(names_[i]);
    const torch::Tensor kept = live.detach().clone();
    live.copy_(average_[i]);
    average_[i].copy_(kept);
  }
}

std::map<std::string, torch::Tensor> WeightAverage::weights() const {
  std::map<std::string, torch::Tensor> out;
  for (size_t i = 0; i < names_.size(); ++i) out[names_[i]] = average_[i];
  return out;
}

void WeightAverage::load(const std::map<std::string, torch::Tensor>& weights, int64_t updates,
                         const std::string& origin) {
  torch::NoGradGuard no_grad;
  if (weights.size() != names_.size()) {
    throw_data(
        fmt::format("{}: the weight average has {} tensors, the model {}", origin, weights.size(), names_.size()));
  }
  for (size_t i = 0; i < names_.size(); ++i) {
    const auto it = weights.find(names_[i]);
    if (it == weights.end() || it->second.sizes() != average_[i].sizes()) {
      throw_data(fmt::format("{}: the weight average lacks {} or has another shape", origin, names_[i]));
    }
    average_[i].copy_(it->second);
  }
  updates_ = updates;
}

}  // namespace deepl::train
