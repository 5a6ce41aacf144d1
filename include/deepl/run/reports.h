#pragma once
// The evaluation reports of a run or a checkpoint: metrics.json, confusion_matrix.{csv,png} and
// misclassified.png (a regression: predicted_vs_true.png), and the metrics as the JSON they hold.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "deepl/data/dataset.h"
#include "deepl/eval/metrics.h"

namespace deepl::run {

/// The headline metrics in one line: loss, accuracy and macro-F1, or a regression's r2, rmse, mae.
std::string metrics_summary(const eval::Metrics& m);
/// Metrics as JSON (class names label the per-class entries and the matrix rows).
nlohmann::json metrics_to_json(const eval::Metrics& m, const std::vector<std::string>& class_names);

/// Writes the reports of `e` on `dataset` to `dir`; `extra` joins metrics.json's fields.
void write_evaluation_reports(const std::filesystem::path& dir, const eval::Evaluation& e, const data::Dataset& dataset,
                              const std::string& title, const nlohmann::json& extra);

}  // namespace deepl::run
