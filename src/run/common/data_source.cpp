#include "common/data_source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <memory>

#include "deepl/core/device.h"
#include "deepl/core/error.h"
#include "deepl/data/sources.h"
#include "deepl/models/network.h"
#include "deepl/report/progress.h"

namespace deepl::run {

using nlohmann::json;

data::Dataset load_plan_split(const config::DataPlan& data, data::Split split, bool quiet) {
  std::unique_ptr<report::ProgressBar> bar;
  const data::LoadProgress progress = [&](int64_t done, int64_t total) {
    if (!bar) bar = std::make_unique<report::ProgressBar>("decoding pictures", total, quiet);
    bar->update(done, "");
    if (done == total) bar->finish();
  };
  return data::load_split(data.source, split, progress);
}

data::SplitIndices validation_split(const data::Dataset& train, const config::ExperimentPlan& plan) {
  if (!train.validation.defined()) {
    return data::split_train_val(train.labels, plan.data.val_fraction, plan.seed(), plan.data.stratified);
  }
  torch::Tensor is_val = torch::zeros({train.size()}, torch::kBool);
  is_val.index_fill_(0, train.validation, true);
  return {torch::nonzero(is_val.logical_not()).flatten(), train.validation};
}

DataStats shape_of_data(const config::ExperimentPlan& plan) {
  DataStats stats;
  stats.dataset = plan.data.dataset;
  if (plan.data.source.kind == data::SourceKind::kRegistered) {
    const auto& info = data::dataset_info(plan.data.dataset);
    stats.input_shape = info.image_shape;
    stats.class_names = info.class_names;
  } else {
    const data::Dataset train = load_plan_split(plan.data, data::Split::kTrain, true);
    stats.input_shape = train.image_shape();
    stats.class_names = train.class_names;
    stats.features = train.feature_names;
  }
  return stats;
}

ModelChoice choose_model(const DataStats& stats) {
  if (!stats.features.empty()) {
    return {{{"type", "mlp"}, {"hidden", json::array({128})}},
            fmt::format("a table of {} feature columns: an MLP with one hidden layer of 128", stats.features.size())};
  }
  const int64_t channels = stats.input_shape.at(0), side = std::max(stats.input_shape.at(1), stats.input_shape.at(2));
  if (channels == 1 && side <= 32) {
    return {{{"type", "cnn"},
             {"blocks", json::array({{{"convs", json::array({{{"out_channels", 32}}, {{"out_channels", 32}}})}}})}},
            fmt::format("grayscale {}x{} pictures: the CNN notebook's two 3x3 convolutions, 2x2 max-pool and dense layer",
                        stats.input_shape.at(1), stats.input_shape.at(2))};
  }
  if (side <= 64) {
    return {{{"type", "resnet"}},
            fmt::format("{} {}x{} pictures: a ResNet-10 (32-64-128 channels) that pools globally",
                        channels == 1 ? "grayscale" : "colour", stats.input_shape.at(1), stats.input_shape.at(2))};
  }
  return {{{"type", "resnet"}, {"stem_stride", 2}, {"stem_pool", true}},
          fmt::format("{}x{} pictures: a ResNet-10 whose stem downsamples by 4, as torchvision's does",
                      stats.input_shape.at(1), stats.input_shape.at(2))};
}

config::ExperimentPlan with_model_for_data(const config::ExperimentPlan& plan, const DataStats& stats) {
  if (plan.model.type != config::kAutoModel) return plan;
  const ModelChoice choice = choose_model(stats);
  spdlog::info("model.type auto: {} ({})", choice.model.at("type").get<std::string>(), choice.reason);
  json resolved = plan.experiment.json;
  resolved["model"] = choice.model;
  config::ExperimentPlan chosen = config::plan_experiment(config::resolve_experiment(resolved));
  return chosen;
}

void check_input_shape(models::NetworkImpl& model, const std::string& type, const models::InputSpec& spec) {
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  try {
    model.forward(torch::zeros({1, spec.channels, spec.height, spec.width}, torch::TensorOptions().device(device_of(model))));
  } catch (const std::exception& e) {
    std::string why = e.what();
    why = why.substr(0, why.find('\n'));
    throw_usage(fmt::format("/model: model type \"{}\" cannot take {}x{}x{} inputs ({}); choose a model for this size, "
                            "or set data.image_size",
                            type, spec.channels, spec.height, spec.width, why));
  }
  model.train(was_training);
}

}  // namespace deepl::run
