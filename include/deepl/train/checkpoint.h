#pragma once
// deepl checkpoints: one pickle (the format torch.save writes, readable by Python's torch.load)
// holding a dict:
//   "format": "deepl-checkpoint-v1"
//   "model": {state-dict name -> tensor}, names as in PyTorch ("features.0.weight")
//   "optimizer": {"state": {param index -> {"step", "exp_avg", ...}}, "param_groups": [{"lr", ...}]}
//                (PyTorch's optimizer.state_dict() layout; lr is restored too, unlike torch::load)
//   "rng": the global CPU generator's state (uint8 tensor)
//   "meta": JSON text: resolved config, epoch, trainer/callback state, scheduler state, data stats
//   "ema": {state-dict name -> tensor}, the weight average (train.ema), when the run keeps one
// Files are written atomically; loading checks names and shapes strictly and lists mismatches.
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <filesystem>
#include <map>
#include <string>

#include <ATen/core/ivalue.h>
#include <nlohmann/json.hpp>

#include "deepl/models/network.h"
#include "deepl/train/optim.h"

namespace deepl::train {

struct Checkpoint {
  std::map<std::string, torch::Tensor> model;
  c10::IValue optimizer;  // None when the file has none
  torch::Tensor rng;      // undefined when the file has none
  nlohmann::json meta;
  std::map<std::string, torch::Tensor> ema;  // empty when the file has none
};

/// The model's parameters and buffers by their PyTorch state-dict names.
std::map<std::string, torch::Tensor> model_state_dict(const models::NetworkImpl& model);

/// Writes a checkpoint atomically. `optimizer` may be null (weights-only checkpoint); `ema`, the
/// weight average, is stored when not empty.
void save_checkpoint(const std::filesystem::path& path, const models::NetworkImpl& model,
                     const torch::optim::Optimizer* optimizer, const nlohmann::json& meta, bool with_rng = true,
                     const std::map<std::string, torch::Tensor>& ema = {});
/// Reads and checks a checkpoint; throws a data error naming the file when it is not one.
Checkpoint read_checkpoint(const std::filesystem::path& path);

/// Copies `state` into the model; throws listing every missing, unexpected or mis-shaped name.
/// With `prefix`, only names starting with it count on both sides (e.g. "features." for a backbone).
void load_model_state(models::NetworkImpl& model, const std::map<std::string, torch::Tensor>& state,
                      const std::string& origin, const std::string& prefix = "");
/// Loads the backbone of `model` (the names under `prefix`, strictly) from a torchvision .pth state
/// dict, e.g. ImageNet VGG weights under a new head; a missing file is a data error saying `if_missing`.
void load_pretrained(models::NetworkImpl& model, const std::filesystem::path& weights, const std::string& prefix,
                     const std::string& if_missing);
/// Restores optimizer state (moments, steps) and each group's learning rate.
void load_optimizer_state(torch::optim::Optimizer& optimizer, const c10::IValue& state, const std::string& origin);
/// A schedule's state as checkpoints store it, and back; checkpoints from before per-step schedules
/// count whole epochs of `steps_per_epoch` steps, and plateau's lr was the lr.
nlohmann::json scheduler_state_to_json(const SchedulerState& state);
SchedulerState scheduler_state_from_json(const nlohmann::json& j, int64_t steps_per_epoch);
/// Restores the global CPU generator (dropout) from a saved state.
void restore_rng(const torch::Tensor& state);

}  // namespace deepl::train
