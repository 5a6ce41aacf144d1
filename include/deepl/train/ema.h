#pragma once
// An exponential moving average of a model's weights, as timm's ModelEmaV3 keeps it: after every
// optimizer step, average = d * average + (1 - d) * weights over the parameters and floating-point
// buffers (batch-norm running statistics); integer buffers (num_batches_tracked) are copied. With
// warm-up, d = min(decay, 1 - (1 + updates)^(-2/3)) (timm's warmup_gamma 1, warmup_power 2/3), so
// the early average follows the fast-moving weights instead of the random initialisation.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/types.h>

#include "deepl/models/network.h"

namespace deepl::train {

class WeightAverage {
 public:
  /// Starts the average at the model's current weights.
  WeightAverage(const models::NetworkImpl& model, double decay, bool warmup);
  /// Restarts the average at the model's current weights (e.g. after rank 0's were broadcast).
  void reset(const models::NetworkImpl& model);
  /// Folds the model's current weights in.
  void update(const models::NetworkImpl& model);
  /// The decay the next update uses.
  double next_decay() const;
  int64_t updates() const { return updates_; }
  /// Exchanges the model's weights with the average; a second call exchanges them back.
  void swap(models::NetworkImpl& model);
  /// The average by state-dict name.
  std::map<std::string, torch::Tensor> weights() const;
  /// Restores an average saved with weights() after `updates` updates; names and shapes must match.
  void load(const std::map<std::string, torch::Tensor>& weights, int64_t updates, const std::string& origin);

 private:
  double decay_;
  bool warmup_;
  int64_t updates_ = 0;
  std::vector<std::string> names_;
  std::vector<torch::Tensor> average_;
};

/// Puts the average's weights into the model for the guard's lifetime (a null average: nothing).
class ScopedAveragedWeights {
 public:
  ScopedAveragedWeights(WeightAverage* average, models::NetworkImpl& model) : average_(average), model_(model) {
    if (average_) average_->swap(model_);
  }
  ~ScopedAveragedWeights() {
    if (average_) average_->swap(model_);
  }
  ScopedAveragedWeights(const ScopedAveragedWeights&) = delete;
  ScopedAveragedWeights& operator=(const ScopedAveragedWeights&) = delete;

 private:
  WeightAverage* average_;
  models::NetworkImpl& model_;
};

}  // namespace deepl::train
