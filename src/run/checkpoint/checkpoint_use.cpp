// Using a run's checkpoint after training: evaluate, export (.pth, ONNX); and the model summary (predict.cpp predicts).
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <sstream>

#include "deepl/core/device.h"
#include "deepl/core/error.h"
#include "deepl/core/files.h"
#include "deepl/core/runtime.h"
#include "deepl/eval/inference.h"
#include "deepl/io/pytorch_file.h"
#include "deepl/models/onnx_export.h"
#include "deepl/models/summary.h"
#include "deepl/models/torchscript.h"
#include "deepl/run/checkpoint_use.h"
#include "deepl/run/reports.h"
#include "deepl/run/run_report.h"
#include "deepl/train/checkpoint.h"
#include "common/assembly.h"
#include "common/data_source.h"
#include "deepl/config/plan.h"

namespace deepl::run {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

eval::TestTimeAugmentation checked_tta(const std::vector<std::string>& views) {
  eval::TestTimeAugmentation tta;
  for (const auto& v : views) {
    if (v == "hflip") tta.hflip = true;
    else if (v == "shift") tta.shift = true;
    else throw_usage(fmt::format("--tta: unknown augmentation \"{}\" (known: hflip, shift; or none alone)", v));
  }
  return tta;
}

json tta_names(const eval::TestTimeAugmentation& tta) {
  json names = json::array();
  if (tta.hflip) names.push_back("hflip");
  if (tta.shift) names.push_back("shift");
  return names;
}

struct EvaluationData {
  data::Dataset dataset;
  torch::Tensor indices;  // undefined: all of it
};

EvaluationData evaluation_data(const config::ExperimentPlan& plan, const std::string& split) {
  const config::DataPlan& d = plan.data;
  if (split == "test") return {load_plan_split(d, data::Split::kTest), {}};
  if (split != "val") throw_usage("--split: expected test or val, got \"" + split + "\"");
  EvaluationData e{load_plan_split(d, data::Split::kTrain), {}};
  e.indices = validation_split(e.dataset, plan).val;
  if (e.indices.numel() == 0) throw_usage("--split val: the run had no validation split (data.val_fraction = 0)");
  return e;
}

}  // namespace

eval::Metrics evaluate_checkpoint(const fs::path& checkpoint, const EvalOptions& options) {
  const int threads = configure_threads(options.threads);
  LoadedModel m = load_model_from_checkpoint(checkpoint);
  if (options.tta) m.plan.tta = checked_tta(*options.tta);
  const EvaluationData data = evaluation_data(m.plan, options.split);
  const data::BatchLoader loader = make_loader(data.dataset, data.indices, LoaderUse::kEvaluation, m.plan, m.stats);
  const auto start = std::chrono::steady_clock::now();
  const auto classes = static_cast<int64_t>(m.stats.class_names.size());
  const eval::Evaluation e = eval::evaluate(*m.model, m.plan.model.task, loader, classes, m.plan.precision, m.plan.tta);
  const double seconds = seconds_since(start);
  const fs::path out = options.out_dir ? *options.out_dir : checkpoint.parent_path().parent_path() / ("eval-" + options.split);
  write_evaluation_reports(out, e, data.dataset, fmt::format("{} {}", m.plan.name(), options.split),
                           {{"split", options.split}, {"checkpoint", fs::absolute(checkpoint).string()},
                            {"tta", tta_names(m.plan.tta)}, {"threads", threads}, {"seconds", seconds}});
  write_run_report(out);
  if (!options.quiet) {
    spdlog::info("{} on {} ({} examples, {:.2f}s, {} threads): {}; wrote {}", checkpoint.string(), options.split,
                 e.metrics.examples, seconds, threads, metrics_summary(e.metrics), out.string());
  }
  return e.metrics;
}

void export_weights(const fs::path& checkpoint, const fs::path& out) {
  const LoadedModel m = load_model_from_checkpoint(checkpoint);  // checks the weights fit the model
  io::write_state_dict(out, train::model_state_dict(*m.model));
}

namespace {

std::string onnx_task_text(models::Task task) {
  switch (task) {
    case models::Task::kBinary: return "binary (one logit: sigmoid > 0.5 is class 1)";
    case models::Task::kRegression: return "regression (value: the target column's prediction, in its units)";
    case models::Task::kClassification: break;
  }
  return "classification (logits: softmax gives the class probabilities)";
}

json onnx_input_spec(const DataStats& stats) {
  if (!stats.features.empty()) {
    return {{"layout", "NF"}, {"features", stats.features}, {"values", "the raw feature values, as in the CSV"}};
  }
  return {{"layout", "NCHW"},
          {"shape", stats.input_shape},
          {"values", "pixel values 0..255 as float, framed as the training data (size, channels)"}};
}

}  // namespace

void export_onnx(const fs::path& checkpoint, const fs::path& out) {
  const LoadedModel m = load_model_from_checkpoint(checkpoint);
  models::OnnxExportOptions o;
  o.input.table = !m.stats.features.empty();
  o.input.shape = o.input.table ? std::vector<int64_t>{static_cast<int64_t>(m.stats.features.size())} : m.stats.input_shape;
  o.input.mean = m.stats.normalization.mean;
  o.input.std = m.stats.normalization.std;
  o.task = m.plan.model.task;
  o.target_mean = m.stats.target_mean, o.target_std = m.stats.target_std;
  o.graph_name = m.plan.name();
  o.metadata = {{"deepl_version", deepl_version()},
                {"model_type", m.plan.model.type},
                {"task", onnx_task_text(o.task)},
                {"class_names", json(m.stats.class_names).dump()},
                {"input", onnx_input_spec(m.stats).dump()},
                {"normalization", json{{"folded_into_graph", true},
                                       {"mean", m.stats.normalization.mean},
                                       {"std", m.stats.normalization.std}}
                                      .dump()},
                {"checkpoint", fs::absolute(checkpoint).string()}};
  write_file_atomic(out, io::onnx::serialize(models::to_onnx(*m.model, o)));
}

void export_torchscript(const fs::path& checkpoint, const fs::path& out) {
  const LoadedModel m = load_model_from_checkpoint(checkpoint);
  auto* scripted = dynamic_cast<models::TorchScriptNetworkImpl*>(m.model.get());
  if (scripted == nullptr) {
    throw_usage(fmt::format("--format torchscript: {} holds a \"{}\" model; TorchScript export is for model.type "
                            "\"torchscript\" (use --format onnx or pth)",
                            checkpoint.string(), m.plan.model.type));
  }
  std::ostringstream bytes;
  scripted->module().save(bytes);
  write_file_atomic(out, bytes.str());
}

std::string model_summary(const config::Experiment& exp) {
  const config::ExperimentPlan planned = config::plan_experiment(exp);
  const DataStats stats = shape_of_data(planned);
  const config::ExperimentPlan plan = with_model_for_data(planned, stats);
  auto model = models::build_model(plan.model.options, stats.spec());
  return models::format_summary(models::summarize(*model, stats.input_shape));
}

}  // namespace deepl::run
