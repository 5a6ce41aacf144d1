#include "common/assembly.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "common/data_source.h"
#include "deepl/core/device.h"
#include "deepl/core/error.h"
#include "deepl/core/runtime.h"
#include "deepl/train/checkpoint.h"
#include "deepl/train/onednn_check.h"

namespace deepl::run {

namespace fs = std::filesystem;
using nlohmann::json;

data::BatchLoader make_loader(const data::Dataset& dataset, const torch::Tensor& indices, LoaderUse use,
                              const config::ExperimentPlan& plan, const DataStats& stats,
                              const dist::WorldInfo& world) {
  const bool training = use == LoaderUse::kTraining;
  data::LoaderOptions o;
  o.rank = world.rank;
  o.world_size = world.world_size;
  o.batch_size = training ? plan.data.batch_size : plan.data.eval_batch_size;
  o.shuffle = training;
  o.drop_last = training && plan.data.drop_last;
  o.seed = plan.seed();
  o.normalization = stats.normalization;
  o.device = plan.device.device;
  if (training) {
    o.transforms = data::make_transforms(plan.data.augmentation);
    o.progressive.sizes = plan.data.progressive_sizes;
    o.progressive.epochs = plan.train.epochs;
  }
  return data::BatchLoader(dataset, indices, o);
}

namespace {

// torchvision's VGG keeps its backbone under "features."; the new head is not loaded.
void load_pretrained_backbone(models::NetworkImpl& model, const config::ModelPlan& m) {
  const std::string missing = fmt::format(
      "/model/pretrained: weights file {} not found; supply torchvision's VGG{} ImageNet weights (e.g. "
      "vgg16-397923af.pth) at that path, or set model.pretrained to \"\"",
      m.pretrained.string(), m.options.value("depth", 16));
  train::load_pretrained(model, m.pretrained, "features.", missing);
}

}  // namespace

std::shared_ptr<models::NetworkImpl> build_network(const config::ExperimentPlan& plan, const models::InputSpec& spec) {
  auto model = models::build_model(plan.model.options, spec);
  if (!plan.model.pretrained.empty()) load_pretrained_backbone(*model, plan.model);
  model->to(plan.device.device);
  if (plan.precision.channels_last) to_channels_last(*model);
  return model;
}

void check_progressive_sizes(models::NetworkImpl& model, const config::ExperimentPlan& plan,
                             const models::InputSpec& spec) {
  if (plan.data.progressive_sizes.empty()) return;
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  const auto on_device = torch::TensorOptions().device(device_of(model));
  for (const int64_t side : plan.data.progressive_sizes) {
    try {
      model.forward(torch::zeros({1, spec.channels, side, side}, on_device));
    } catch (const std::exception&) {
      model.train(was_training);
      throw_usage(fmt::format("/data/progressive_sizes: model type \"{}\" cannot take {}x{} images, only its own {}x{} "
                              "(progressive resizing needs a model that pools globally, as resnet)",
                              plan.model.type, side, side, spec.height, spec.width));
    }
  }
  model.train(was_training);
}

std::string avoid_wrong_onednn_gradients(models::NetworkImpl& model, const config::ExperimentPlan& plan,
                                         const models::InputSpec& spec) {
  if (!device_of(model).is_cpu() || !train::onednn_enabled()) return "";
  std::vector<std::array<int64_t, 2>> sizes{{spec.height, spec.width}};
  for (const int64_t side : plan.data.progressive_sizes) sizes.push_back({side, side});
  const bool channels_last = plan.precision.channels_last;
  const train::GradientCheck check = train::check_gradients(model, channels_last, spec.channels, sizes);
  if (check.ok()) {
    spdlog::info("float32 gradients checked against float64: {}", check.describe());
    return "";
  }
  train::set_onednn_enabled(false);
  if (const auto without = train::check_gradients(model, channels_last, spec.channels, sizes); !without.ok()) {
    train::set_onednn_enabled(true);
    spdlog::warn("this model's gradients disagree with float64 with oneDNN ({}) and without ({}): not oneDNN's "
                 "doing, training as configured",
                 check.describe(), without.describe());
    return "";
  }
  spdlog::warn("oneDNN computes wrong gradients for this model on this CPU with LibTorch {} ({} in float32); "
               "training on LibTorch's own kernels instead (correct, slower)",
               libtorch_version(), check.describe());
  return check.describe();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

LoadedModel load_model_from_checkpoint(const fs::path& path) {
  const train::Checkpoint ckpt = train::read_checkpoint(path);
  if (!ckpt.meta.contains("config") || !ckpt.meta.contains("data")) throw_data(path.string() + ": checkpoint lacks its config");
  json config = ckpt.meta.at("config");
  // The checkpoint holds every weight: do not ask for the pretrained file it started from.
  if (config.contains("model") && config["model"].contains("pretrained")) config["model"]["pretrained"] = "";
  // Checkpoints hold CPU tensors: use whatever this machine has, not the device that trained it.
  config["device"] = "auto";
  LoadedModel m;
  m.stats = DataStats::from_json(ckpt.meta.at("data"), path.string());
  m.plan = with_model_for_data(
      config::plan_experiment(config::resolve_experiment(config, {}, path.string() + " (embedded config)")), m.stats);
  m.model = build_network(m.plan, m.stats.spec());
  train::load_model_state(*m.model, ckpt.model, path.string());
  m.model->eval();
  return m;
}

}  // namespace deepl::run
