#pragma once
// Reproducing the notebooks' published results: run shipped experiments, compare each test
// accuracy with its target (`expect.test_accuracy` in the config) and write summary.md/json.
// The notebook apps (deepl-mnist-mlp, deepl-mnist-cnn, deepl-fashion) and `deepl reproduce`
// are thin wrappers around this.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace deepl::run {

struct ExperimentOutcome {
  std::string name, description;
  std::optional<double> published, target;
  double accuracy = 0;
  int64_t epochs = 0;
  double seconds = 0;
  std::string status;  // "ok", "below target", "over its time budget: ...", "failed: ...", "skipped: ..."
  std::filesystem::path run_dir;
  std::string precision;                 // what train.precision resolved to here: "fp32" or "bf16"
  std::optional<double> budget_minutes;  // expect.minutes for that precision, if the config sets one

  /// Met its target, or could not run for a reason the user must fix (no pretrained weights).
  bool passed() const { return status == "ok" || status.rfind("skipped", 0) == 0; }
};

struct ReproduceOptions {
  std::filesystem::path out_dir = "runs/reproduce";
  bool quiet = false;
  int threads = -1;  // -1: from each config
  std::vector<std::string> overrides;
  /// Minutes for the whole reproduction (0: no limit). An experiment with a time budget
  /// (expect.minutes) runs only if its budget fits in what is left, else it is skipped, saying why;
  /// experiments without one always run, first.
  double budget_minutes = 0;
};

/// The shipped experiment configs in `dir` that state a target, by name, those with a time budget
/// (expect.minutes) last, shortest budget first; `only` keeps one name.
std::vector<std::filesystem::path> shipped_experiments(const std::filesystem::path& dir, const std::string& only = "");
/// Trains and tests each config in turn (a failing one does not stop the others) and rewrites
/// <out_dir>/summary.{md,json} after each.
std::vector<ExperimentOutcome> reproduce(const std::vector<std::filesystem::path>& configs, const std::string& title,
                                         const ReproduceOptions& options);
/// The results table as Markdown (with date, machine, threads and LibTorch version) and JSON.
std::string summary_markdown(const std::string& title, const std::vector<ExperimentOutcome>& rows, int threads);
nlohmann::json summary_json(const std::string& title, const std::vector<ExperimentOutcome>& rows, int threads);

/// A notebook told end to end: look at the data, then its experiments, then the comparison.
struct Notebook {
  std::string title;
  std::string dataset;  // for the data grid
  std::vector<std::string> experiments;  // config names in experiments/
};
/// Runs a notebook; returns true when every experiment met its target.
bool run_notebook(const Notebook& notebook, const std::filesystem::path& experiments_dir, const ReproduceOptions& options);

}  // namespace deepl::run
