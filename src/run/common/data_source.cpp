#include "common/data_source.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <memory>

#include "deepl/core/device.h"
#include "deepl/core/error.h"
#include "deepl/core/files.h"
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
    const bool stratified = plan.data.stratified && !train.regression();  // a regression has no classes
    return data::split_train_val(train.labels, plan.data.val_fraction, plan.seed(), stratified);
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
    stats.regression = train.regression();
    stats.target_mean = train.target_mean, stats.target_std = train.target_std;
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

namespace {

config::ExperimentPlan with_auto_model(const config::ExperimentPlan& plan, const DataStats& stats) {
  const ModelChoice choice = choose_model(stats);
  spdlog::info("model.type auto: {} ({})", choice.model.at("type").get<std::string>(), choice.reason);
  json resolved = plan.experiment.json;
  resolved["model"] = choice.model;
  return config::plan_experiment(config::resolve_experiment(resolved));
}

// A regression learns one number with a squared-error loss and is judged by r2 where a classifier
// is judged by accuracy; what only makes sense for classes is refused.
void learn_as_regression(config::ExperimentPlan& plan, const DataStats& stats) {
  const std::string& type = plan.model.type;
  if (type != "mlp" && type != "linear" && type != "torchscript") {
    throw_usage(fmt::format("/model/type: \"{}\" cannot learn the regression target \"{}\"; use \"mlp\", \"linear\" "
                            "or \"torchscript\" (or data.task \"classification\")",
                            type, stats.class_names.at(0)));
  }
  if (plan.train.label_smoothing > 0) throw_usage("/train/label_smoothing: smooths class labels; a regression has none");
  plan.model.task = models::Task::kRegression;
  for (std::string* monitor :
       {&plan.train.early_stopping_monitor, &plan.train.checkpoint_monitor, &plan.scheduler.monitor}) {
    if (*monitor == "val_accuracy") *monitor = "val_r2";
    if (*monitor == "train_accuracy") *monitor = "train_loss";
  }
}

// A TorchScript model's file is pinned by its SHA-256, which config.json and every checkpoint record.
void pin_torchscript_file(config::ExperimentPlan& plan) {
  if (plan.model.type != "torchscript" || !plan.model.options.at("sha256").get<std::string>().empty()) return;
  const std::string sha256 = sha256_of_file(plan.model.options.at("path").get<std::string>());
  plan.model.options["sha256"] = sha256;
  plan.experiment.json["model"]["sha256"] = sha256;
}

}  // namespace

config::ExperimentPlan with_model_for_data(const config::ExperimentPlan& plan, const DataStats& stats) {
  config::ExperimentPlan chosen = plan.model.type == config::kAutoModel ? with_auto_model(plan, stats) : plan;
  if (stats.regression) learn_as_regression(chosen, stats);
  pin_torchscript_file(chosen);
  return chosen;
}

void check_same_torchscript_file(const std::filesystem::path& checkpoint, const nlohmann::json& checkpoint_config,
                                 const config::ExperimentPlan& plan) {
  if (plan.model.type != "torchscript") return;
  const std::string trained = checkpoint_config.at("model").value("sha256", "");
  const std::string now = plan.model.options.at("sha256");
  if (trained != now) {
    throw_usage(fmt::format("/model/path: {} was trained with a TorchScript file of sha256 {}; {} now has sha256 {}: "
                            "resuming would train another module; start a new run",
                            checkpoint.string(), trained, plan.model.options.at("path").get<std::string>(), now));
  }
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
