// Using a run's checkpoint after training: evaluate, predict, export; and the model summary.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "deepl/core/device.h"
#include "deepl/core/error.h"
#include "deepl/core/runtime.h"
#include "deepl/data/idx.h"
#include "deepl/eval/inference.h"
#include "deepl/io/pytorch_file.h"
#include "deepl/models/summary.h"
#include "deepl/run/experiment.h"
#include "deepl/train/checkpoint.h"
#include "run_parts.h"

namespace deepl::run {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace detail;

namespace {
struct LoadedModel {
  config::Experiment experiment;
  DataStats stats;
  std::shared_ptr<models::NetworkImpl> model;
  models::Task task;
  train::Precision precision;
};

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
}  // namespace

eval::Metrics evaluate_checkpoint(const fs::path& checkpoint, const EvalOptions& options) {
  const int threads = configure_threads(options.threads);
  LoadedModel m = load_model_from_checkpoint(checkpoint);
  const json& d = m.experiment.json.at("data");
  const fs::path root = data::resolve_data_root(d.at("root"));
  data::Dataset dataset;
  torch::Tensor indices;
  if (options.split == "test") {
    dataset = data::load_dataset(d.at("dataset"), data::Split::kTest, root);
  } else if (options.split == "val") {
    dataset = data::load_dataset(d.at("dataset"), data::Split::kTrain, root);
    indices = data::split_train_val(dataset.labels, d.at("val_fraction"), m.experiment.seed, d.at("stratified")).val;
    if (indices.numel() == 0) throw_usage("--split val: the run had no validation split (data.val_fraction = 0)");
  } else {
    throw_usage("--split: expected test or val, got \"" + options.split + "\"");
  }
  const data::BatchLoader loader = make_loader(dataset, indices, d.at("eval_batch_size"), false, m.experiment, m.stats);
  const auto start = std::chrono::steady_clock::now();
  const eval::Evaluation e = eval::evaluate(*m.model, m.task, loader, static_cast<int64_t>(m.stats.class_names.size()), m.precision);
  const double seconds = seconds_since(start);
  const fs::path out = options.out_dir ? *options.out_dir : checkpoint.parent_path().parent_path() / ("eval-" + options.split);
  write_evaluation_reports(out, e, dataset, fmt::format("{} {}", m.experiment.name, options.split),
                           {{"split", options.split}, {"checkpoint", fs::absolute(checkpoint).string()},
                            {"threads", threads}, {"seconds", seconds}});
  if (!options.quiet) {
    spdlog::info("{} on {} ({} examples, {:.2f}s, {} threads): loss {:.4f} accuracy {:.4f} macro-F1 {:.4f}; wrote {}",
                 checkpoint.string(), options.split, e.metrics.examples, seconds, threads, e.metrics.loss,
                 e.metrics.accuracy, e.metrics.macro_f1, out.string());
  }
  return e.metrics;
}

void predict(const fs::path& checkpoint, const fs::path& input, int top_k, std::ostream& out) {
  LoadedModel m = load_model_from_checkpoint(checkpoint);
  torch::Tensor images = data::read_idx(input);
  const auto& shape = m.stats.input_shape;
  if (images.scalar_type() != torch::kUInt8) throw_data(input.string() + ": expected uint8 images");
  if (images.dim() == 2 || (images.dim() == 3 && shape[0] > 1 && images.size(0) == shape[0])) images = images.unsqueeze(0);
  const std::vector<int64_t> got(images.sizes().begin() + 1, images.sizes().end());
  const std::vector<int64_t> want_hw(shape.begin() + 1, shape.end());
  if (got != want_hw && got != shape) {
    throw_data(fmt::format("{}: images are {}, the model expects {}", input.string(), fmt::join(got, "x"),
                           fmt::join(shape, "x")));
  }
  data::Dataset dataset{"input", images, torch::zeros({images.size(0)}, torch::kInt64), m.stats.class_names};
  data::LoaderOptions o;
  o.batch_size = 1000;
  o.normalization = m.stats.normalization;
  const data::BatchLoader loader(dataset, torch::Tensor(), o);
  const int64_t k = std::clamp<int64_t>(top_k, 1, static_cast<int64_t>(m.stats.class_names.size()));
  torch::InferenceMode guard;
  const eval::InferencePlan plan(*m.model, m.precision);
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    const data::Batch batch = loader.batch(b);
    const torch::Tensor outputs = plan.forward(batch.inputs);
    const torch::Tensor probs = eval::class_probabilities(m.task, outputs);
    const auto [values, classes] = probs.topk(k, 1);
    for (int64_t i = 0; i < probs.size(0); ++i) {
      json top = json::array();
      for (int64_t j = 0; j < k; ++j) {
        const int64_t c = classes[i][j].item<int64_t>();
        top.push_back({{"class", c}, {"name", m.stats.class_names.at(c)}, {"probability", values[i][j].item<double>()}});
      }
      out << json{{"index", batch.indices[i].item<int64_t>()}, {"top", top}}.dump() << "\n";
    }
  }
}

void export_weights(const fs::path& checkpoint, const fs::path& out) {
  const LoadedModel m = load_model_from_checkpoint(checkpoint);  // checks the weights fit the model
  io::write_state_dict(out, train::model_state_dict(*m.model));
}

std::string model_summary(const config::Experiment& exp) {
  const std::string dataset = exp.json.at("data").at("dataset");
  const auto& info = data::dataset_info(dataset);
  const auto& s = info.image_shape;
  const models::InputSpec spec{s.at(0), s.at(1), s.at(2), static_cast<int64_t>(info.class_names.size())};
  auto model = build_network(exp, spec);
  return models::format_summary(models::summarize(*model, info.image_shape));
}

}  // namespace deepl::run
