// Using a run's checkpoint after training: evaluate, export; and the model summary (predict.cpp predicts).
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "deepl/core/device.h"
#include "deepl/core/error.h"
#include "deepl/core/runtime.h"
#include "deepl/eval/inference.h"
#include "deepl/io/pytorch_file.h"
#include "deepl/models/summary.h"
#include "deepl/run/experiment.h"
#include "deepl/run/run_report.h"
#include "deepl/train/checkpoint.h"
#include "run_parts.h"

namespace deepl::run {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace detail;


namespace {

json checked_tta(const std::vector<std::string>& views) {
  for (const auto& v : views) {
    if (v != "hflip" && v != "shift") {
      throw_usage(fmt::format("--tta: unknown augmentation \"{}\" (known: hflip, shift; or none alone)", v));
    }
  }
  return views;
}

}  // namespace

eval::Metrics evaluate_checkpoint(const fs::path& checkpoint, const EvalOptions& options) {
  const int threads = configure_threads(options.threads);
  LoadedModel m = load_model_from_checkpoint(checkpoint);
  if (options.tta) m.experiment.json["eval"]["tta"] = checked_tta(*options.tta);
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
  const auto classes = static_cast<int64_t>(m.stats.class_names.size());
  const eval::Evaluation e = eval::evaluate(*m.model, m.task, loader, classes, m.precision, test_time_augmentation(m.experiment));
  const double seconds = seconds_since(start);
  const fs::path out = options.out_dir ? *options.out_dir : checkpoint.parent_path().parent_path() / ("eval-" + options.split);
  write_evaluation_reports(out, e, dataset, fmt::format("{} {}", m.experiment.name, options.split),
                           {{"split", options.split}, {"checkpoint", fs::absolute(checkpoint).string()},
                            {"tta", m.experiment.json["eval"]["tta"]}, {"threads", threads}, {"seconds", seconds}});
  write_run_report(out);
  if (!options.quiet) {
    spdlog::info("{} on {} ({} examples, {:.2f}s, {} threads): loss {:.4f} accuracy {:.4f} macro-F1 {:.4f}; wrote {}",
                 checkpoint.string(), options.split, e.metrics.examples, seconds, threads, e.metrics.loss,
                 e.metrics.accuracy, e.metrics.macro_f1, out.string());
  }
  return e.metrics;
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
