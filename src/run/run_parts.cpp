#include "run_parts.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>

#include "deepl/core/cpu.h"
#include "deepl/core/device.h"
#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/core/runtime.h"
#include "deepl/report/plot.h"
#include "deepl/train/checkpoint.h"
#include "deepl/train/onednn_check.h"
#include "deepl/run/data_views.h"

namespace deepl::run::detail {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::vector<int64_t> flat_counts(const torch::Tensor& confusion) {
  const torch::Tensor c = confusion.contiguous().to(torch::kInt64);
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

void write_misclassified(const fs::path& path, const eval::Evaluation& e, const data::Dataset& dataset) {
  const torch::Tensor targets = dataset.labels.index_select(0, e.indices);
  const torch::Tensor wrong = torch::nonzero(e.predictions != targets).flatten();
  const torch::Tensor order = std::get<1>(e.confidence.index_select(0, wrong).sort(0, /*descending=*/true));
  std::vector<report::GridImage> images;
  const auto& names = dataset.class_names;
  for (int64_t k = 0; k < std::min<int64_t>(32, order.numel()); ++k) {
    const int64_t pos = wrong[order[k].item<int64_t>()].item<int64_t>();
    const int64_t index = e.indices[pos].item<int64_t>();
    const int64_t truth = targets[pos].item<int64_t>(), predicted = e.predictions[pos].item<int64_t>();
    images.push_back(grid_image(dataset, index,
                                fmt::format("{} as {} {:.0f}%", names.at(truth), names.at(predicted),
                                            100 * e.confidence[pos].item<double>()),
                                true));
  }
  report::write_image_grid_png(path, images,
                               fmt::format("{} most confident mistakes (true as predicted, confidence)", images.size()),
                               8);
}

}  // namespace

data::BatchLoader make_loader(const data::Dataset& dataset, const torch::Tensor& indices, int64_t batch_size,
                              bool training, const config::Experiment& exp, const DataStats& stats,
                              const dist::WorldInfo& world) {
  const json& d = exp.json.at("data");
  data::LoaderOptions o;
  o.rank = world.rank;
  o.world_size = world.world_size;
  o.batch_size = batch_size;
  o.shuffle = training;
  o.drop_last = training && d.at("drop_last").get<bool>();
  o.seed = exp.seed;
  o.normalization = stats.normalization;
  o.device = resolve_device(exp.json.at("device")).device;
  if (training) {
    if (d.at("random_crop").get<int64_t>() > 0) o.transforms.push_back(data::random_crop(d.at("random_crop")));
    if (d.at("hflip").get<bool>()) o.transforms.push_back(data::horizontal_flip());
    if (d.at("random_erasing").get<double>() > 0) {
      const auto range = [&](const char* key) {
        return std::make_pair(d.at(key)[0].get<double>(), d.at(key)[1].get<double>());
      };
      o.transforms.push_back(
          data::random_erasing(d.at("random_erasing"), range("random_erasing_scale"), range("random_erasing_ratio")));
    }
    o.progressive.sizes = d.at("progressive_sizes").get<std::vector<int64_t>>();
    o.progressive.epochs = exp.json.at("train").at("epochs");
  }
  return data::BatchLoader(dataset, indices, o);
}

std::shared_ptr<models::NetworkImpl> build_network(const config::Experiment& exp, const models::InputSpec& spec) {
  return models::build_model(exp.json.at("model"), spec);
}

void check_progressive_sizes(models::NetworkImpl& model, const config::Experiment& exp, const models::InputSpec& spec) {
  const auto sizes = exp.json.at("data").at("progressive_sizes").get<std::vector<int64_t>>();
  if (sizes.empty()) return;
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  const auto on_device = torch::TensorOptions().device(device_of(model));
  for (const int64_t side : sizes) {
    try {
      model.forward(torch::zeros({1, spec.channels, side, side}, on_device));
    } catch (const std::exception&) {
      model.train(was_training);
      throw_usage(fmt::format("/data/progressive_sizes: model type {} cannot take {}x{} images, only its own {}x{} "
                              "(progressive resizing needs a model that pools globally, as resnet)",
                              exp.json.at("model").at("type").dump(), side, side, spec.height, spec.width));
    }
  }
  model.train(was_training);
}

namespace {

// deepl's bf16 is CPU autocast; on a CUDA device it trains in float32.
train::Precision cuda_precision(const json& t) {
  if (t.at("precision") == "bf16") {
    throw_usage("/train/precision: \"bf16\" is CPU autocast in deepl; on a CUDA device use \"fp32\" or \"auto\"");
  }
  train::Precision p;
  p.channels_last = t.at("channels_last").is_boolean() && t.at("channels_last").get<bool>();
  if (t.at("precision") == "auto") p.reason = "auto: CUDA device";
  return p;
}

}  // namespace

std::string avoid_wrong_onednn_gradients(models::NetworkImpl& model, const config::Experiment& exp,
                                         const train::Precision& precision, const models::InputSpec& spec) {
  if (!device_of(model).is_cpu() || !train::onednn_enabled()) return "";
  std::vector<std::array<int64_t, 2>> sizes{{spec.height, spec.width}};
  for (const int64_t side : exp.json.at("data").at("progressive_sizes").get<std::vector<int64_t>>()) {
    sizes.push_back({side, side});
  }
  const train::GradientCheck check = train::check_gradients(model, precision.channels_last, spec.channels, sizes);
  if (check.ok()) {
    spdlog::info("float32 gradients checked against float64: {}", check.describe());
    return "";
  }
  train::set_onednn_enabled(false);
  if (const auto without = train::check_gradients(model, precision.channels_last, spec.channels, sizes); !without.ok()) {
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

train::Precision precision_of(const config::Experiment& exp) {
  const json& t = exp.json.at("train");
  if (!resolve_device(exp.json.at("device")).device.is_cpu()) return cuda_precision(t);
  const CpuInfo& cpu = cpu_info();
  train::Precision p = train::resolve_precision(t.at("precision"), t.at("channels_last"), cpu);
  if (p.slow_on_this_cpu) {
    spdlog::warn("train.precision \"bf16\" on {} ({}), which has no native bf16: LibTorch's bf16 kernels fall back to "
                 "slow conversions there (measured 16x slower than fp32); \"auto\" picks fp32 on this CPU",
                 cpu.model, cpu.isa_level());
  }
  return p;
}

models::Task task_of(const config::Experiment& exp) {
  return models::find_model(exp.json.at("model").at("type")).task;
}

void write_evaluation_reports(const fs::path& dir, const eval::Evaluation& e, const data::Dataset& dataset,
                              const std::string& title, const json& extra) {
  json metrics = eval::metrics_to_json(e.metrics, dataset.class_names);
  for (const auto& item : extra.items()) metrics[item.key()] = item.value();
  write_json_file(dir / "metrics.json", metrics);
  write_file_atomic(dir / "confusion_matrix.csv", eval::confusion_to_csv(e.metrics.confusion, dataset.class_names));
  report::write_confusion_matrix_png(dir / "confusion_matrix.png", flat_counts(e.metrics.confusion), dataset.class_names,
                                     fmt::format("{} (accuracy {:.4f})", title, e.metrics.accuracy));
  write_misclassified(dir / "misclassified.png", e, dataset);
}

LoadedModel load_model_from_checkpoint(const fs::path& path) {
  const train::Checkpoint ckpt = train::read_checkpoint(path);
  LoadedModel m;
  if (!ckpt.meta.contains("config") || !ckpt.meta.contains("data")) throw_data(path.string() + ": checkpoint lacks its config");
  json config = ckpt.meta.at("config");
  // The checkpoint holds every weight: do not ask for the pretrained file it started from.
  if (config.contains("model") && config["model"].contains("pretrained")) config["model"]["pretrained"] = "";
  // Checkpoints hold CPU tensors: use whatever this machine has, not the device that trained it.
  config["device"] = "auto";
  m.experiment = config::resolve_experiment(config, {}, path.string() + " (embedded config)");
  m.stats = DataStats::from_json(ckpt.meta.at("data"), path.string());
  m.model = build_network(m.experiment, m.stats.spec());
  m.model->to(resolve_device("auto").device);
  m.precision = precision_of(m.experiment);
  if (m.precision.channels_last) train::to_channels_last(*m.model);
  train::load_model_state(*m.model, ckpt.model, path.string());
  m.model->eval();
  m.task = task_of(m.experiment);
  return m;
}

eval::TestTimeAugmentation test_time_augmentation(const config::Experiment& exp) {
  const json& tta = exp.json.at("eval").at("tta");
  const auto has = [&](const char* name) { return std::find(tta.begin(), tta.end(), name) != tta.end(); };
  return {has("hflip"), has("shift")};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace deepl::run::detail
