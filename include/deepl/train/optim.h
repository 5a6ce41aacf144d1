#pragma once
// Optimizer and learning-rate schedule factories from the validated config sections.
// The schedules are deepl's own (LibTorch 1.13's have no state save/load): their state is JSON,
// stored in checkpoints, so a resumed run follows the same schedule.
#include <torch/optim/optimizer.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace deepl::train {

/// Builds the optimizer an `optimizer` config section describes, over `parameters`.
std::shared_ptr<torch::optim::Optimizer> make_optimizer(const nlohmann::json& section,
                                                        std::vector<torch::Tensor> parameters);
/// Sets the learning rate of every parameter group.
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);
/// The learning rate of the first parameter group.
double learning_rate(const torch::optim::Optimizer& optimizer);

/// Per-epoch learning-rate schedule: none, step, cosine (to min_lr over the run), plateau.
class LrScheduler {
 public:
  LrScheduler(const nlohmann::json& section, double base_lr, int64_t total_epochs);
  /// The lr for the next epoch, given the metrics of the epoch that just ended.
  double step(const std::map<std::string, double>& metrics);
  double lr() const { return lr_; }
  nlohmann::json state() const;
  void load_state(const nlohmann::json& state);

 private:
  nlohmann::json section_;
  double base_lr_;
  int64_t total_epochs_;
  int64_t epochs_done_ = 0;
  double lr_;
  double best_ = 0;
  bool has_best_ = false;
  int64_t bad_epochs_ = 0;
};

}  // namespace deepl::train
