#include "deepl/run/reports.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>

#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/data/dataset.h"
#include "deepl/report/plot.h"
#include "deepl/run/data_views.h"

namespace deepl::run {

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

// Predicted against true values with the line of perfect predictions.
void write_predicted_vs_true(const fs::path& path, const eval::Evaluation& e, const data::Dataset& dataset,
                             const std::string& title) {
  const torch::Tensor truth =
      data::in_target_units(dataset.labels.index_select(0, e.indices), dataset.target_mean, dataset.target_std);
  const torch::Tensor predicted = e.predictions.to(torch::kFloat64).contiguous();
  report::Series points{"test examples", {}, {}, 0x1f77b4, true};
  points.x.assign(truth.data_ptr<double>(), truth.data_ptr<double>() + truth.numel());
  points.y.assign(predicted.data_ptr<double>(), predicted.data_ptr<double>() + predicted.numel());
  report::Series ideal{"predicted = true", {}, {}, 0xff7f0e};
  if (truth.numel() > 0) {
    const double low = std::min(truth.min().item<double>(), predicted.min().item<double>());
    const double high = std::max(truth.max().item<double>(), predicted.max().item<double>());
    ideal.x = ideal.y = {low, high};
  }
  const std::string target = dataset.class_names.at(0);
  report::write_charts_png(path, {{fmt::format("{}: r2 {:.4f}", title, e.metrics.regression->r2), "true " + target,
                                   "predicted " + target, {points, ideal}}});
}

}  // namespace

std::string metrics_summary(const eval::Metrics& m) {
  if (m.regression) {
    return fmt::format("r2 {:.4f} rmse {:.4g} mae {:.4g}", m.regression->r2, m.regression->rmse, m.regression->mae);
  }
  return fmt::format("loss {:.4f} accuracy {:.4f} macro-F1 {:.4f}", m.loss, m.accuracy, m.macro_f1);
}

json metrics_to_json(const eval::Metrics& m, const std::vector<std::string>& class_names) {
  if (m.regression) {
    return {{"loss", m.loss},   {"r2", m.regression->r2}, {"rmse", m.regression->rmse},
            {"mae", m.regression->mae}, {"examples", m.examples}, {"target", class_names.at(0)}};
  }
  json per_class = json::array();
  for (size_t c = 0; c < m.per_class.size(); ++c) {
    const auto& p = m.per_class[c];
    per_class.push_back({{"class", c < class_names.size() ? class_names[c] : std::to_string(c)},
                         {"precision", p.precision},
                         {"recall", p.recall},
                         {"f1", p.f1},
                         {"support", p.support}});
  }
  json matrix = json::array();
  const auto cm = m.confusion.accessor<int64_t, 2>();
  for (int64_t i = 0; i < m.confusion.size(0); ++i) {
    json row = json::array();
    for (int64_t j = 0; j < m.confusion.size(1); ++j) row.push_back(cm[i][j]);
    matrix.push_back(row);
  }
  return {{"loss", m.loss},         {"accuracy", m.accuracy},          {"macro_f1", m.macro_f1},
          {"examples", m.examples}, {"per_class", per_class},          {"class_names", class_names},
          {"confusion_matrix", matrix}};
}

void write_evaluation_reports(const fs::path& dir, const eval::Evaluation& e, const data::Dataset& dataset,
                              const std::string& title, const json& extra) {
  json metrics = metrics_to_json(e.metrics, dataset.class_names);
  for (const auto& item : extra.items()) metrics[item.key()] = item.value();
  write_json_file(dir / "metrics.json", metrics);
  if (e.metrics.regression) {
    write_predicted_vs_true(dir / "predicted_vs_true.png", e, dataset, title);
    return;
  }
  write_file_atomic(dir / "confusion_matrix.csv", eval::confusion_to_csv(e.metrics.confusion, dataset.class_names));
  report::write_confusion_matrix_png(dir / "confusion_matrix.png", flat_counts(e.metrics.confusion), dataset.class_names,
                                     fmt::format("{} (accuracy {:.4f})", title, e.metrics.accuracy));
  if (dataset.feature_names.empty()) write_misclassified(dir / "misclassified.png", e, dataset);  // tables have no pictures
}

}  // namespace deepl::run
