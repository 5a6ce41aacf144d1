#include "deepl/run/reproduce.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <tuple>

#include "deepl/config/config.h"
#include "deepl/config/plan.h"
#include "deepl/core/error.h"
#include "deepl/core/cpu.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/core/runtime.h"
#include "deepl/core/signals.h"
#include "deepl/run/data_views.h"
#include "deepl/run/train_session.h"

namespace deepl::run {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string fraction_text(const std::optional<double>& v) { return v ? fmt::format("{:.4f}", *v) : "-"; }

std::string minutes_text(double minutes) { return fmt::format("{:.1f} min", minutes); }

// The precision train.precision resolves to here, and the config's time budget for it.
void read_budget(const config::ExperimentPlan& plan, ExperimentOutcome& row) {
  const bool bf16 = plan.precision.bf16;
  row.precision = bf16 ? "bf16" : "fp32";
  row.budget_minutes = bf16 ? plan.expect.minutes_bf16 : plan.expect.minutes_fp32;
}

// Why an experiment does not run here, or "" when it does.
std::string skip_reason(const config::ExperimentPlan& plan, const ExperimentOutcome& row,
                        const std::optional<double>& minutes_left) {
  const fs::path& weights = plan.model.pretrained;
  if (!weights.empty() && !fs::exists(weights)) return "skipped: no pretrained weights (" + weights.string() + ")";
  if (row.budget_minutes && minutes_left && *row.budget_minutes > *minutes_left) {
    return fmt::format("skipped: its budget here is {:.0f} min ({}) and {} of the reproduction's budget are left",
                       *row.budget_minutes, row.precision, minutes_text(std::max(0.0, *minutes_left)));
  }
  return "";
}

// The largest of expect.minutes' budgets (0 without any), for ordering only: validation comes later.
double longest_budget_minutes(const json& expect) {
  double longest = 0;
  if (!expect.contains("minutes") || !expect["minutes"].is_object()) return longest;
  for (const auto& [precision, minutes] : expect["minutes"].items()) {
    if (minutes.is_number()) longest = std::max(longest, minutes.get<double>());
  }
  return longest;
}

std::string result_status(const ExperimentOutcome& row) {
  if (row.target && row.accuracy < *row.target) return "below target";
  if (row.budget_minutes && row.seconds > *row.budget_minutes * 60) {
    return fmt::format("over its time budget: {} > {:.0f} min ({})", minutes_text(row.seconds / 60), *row.budget_minutes,
                       row.precision);
  }
  return "ok";
}

ExperimentOutcome run_one(const fs::path& config_path, const ReproduceOptions& options,
                          const std::optional<double>& minutes_left) {
  ExperimentOutcome row;
  row.name = config_path.stem().string();
  try {
    config::Experiment exp = config::load_experiment(config_path, options.overrides);
    if (options.threads >= 0) exp.threads = options.threads;
    row.name = exp.name;
    const config::ExperimentPlan plan = config::plan_experiment(exp);
    row.description = plan.description;
    row.published = plan.expect.published;
    row.target = plan.expect.test_accuracy;
    read_budget(plan, row);
    if (const std::string reason = skip_reason(plan, row, minutes_left); !reason.empty()) {
      row.status = reason;
      spdlog::warn("{}: {}", row.name, row.status);
      return row;
    }
    TrainOptions train;
    train.quiet = options.quiet;
    train.run_dir = options.out_dir / exp.name;
    const TrainResult result = train_experiment(plan, train);
    if (result.interrupted_by != 0) {
      row.status = fmt::format("interrupted by {} (resume from {})", signal_name(result.interrupted_by),
                               (result.run_dir / "checkpoints/last.pt").string());
      return row;
    }
    row.accuracy = result.test.accuracy;
    row.epochs = static_cast<int64_t>(result.history.size());
    row.seconds = result.wall_seconds;
    row.run_dir = result.run_dir;
    row.status = result_status(row);
  } catch (const Error& e) {
    row.status = std::string("failed: ") + e.what();
    spdlog::error("{}: {}", row.name, e.what());
  }
  return row;
}

}  // namespace

std::vector<fs::path> shipped_experiments(const fs::path& dir, const std::string& only) {
  // (has a time budget, its longest budget, config): budgeted ones sort last, the quickest of them first,
  // so that a long one does not crowd the others out of a limited reproduction budget.
  std::vector<std::tuple<bool, double, fs::path>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".json") continue;
    const json raw = read_json_file(entry.path());
    if (!raw.contains("expect") || !raw["expect"].contains("test_accuracy")) continue;
    if (!only.empty() && raw.value("name", std::string()) != only && entry.path().stem() != only) continue;
    found.emplace_back(raw["expect"].contains("minutes"), longest_budget_minutes(raw["expect"]), entry.path());
  }
  if (ec) throw_usage(dir.string() + ": cannot list experiments: " + ec.message());
  if (found.empty()) {
    throw_usage(only.empty() ? dir.string() + ": no experiment with expect.test_accuracy"
                             : fmt::format("{}: no experiment named \"{}\"", dir.string(), only));
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> configs;
  for (auto& [budgeted, minutes, config] : found) configs.push_back(std::move(config));
  return configs;
}

std::string summary_markdown(const std::string& title, const std::vector<ExperimentOutcome>& rows, int threads) {
  std::string out = fmt::format("# {}\n\n{} on {}, {}, {} threads, LibTorch {}, deepl {} ({})\n\n", title,
                                utc_now_iso8601(), host_name(), cpu_info().summary(), threads, libtorch_version(),
                                deepl_version(), git_commit());
  out += "| experiment | published | target | deepl test accuracy | epochs | train time | time budget | status |\n";
  out += "|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : rows) {
    const bool ran = r.status.rfind("failed", 0) != 0 && r.status.rfind("skipped", 0) != 0;
    const std::string budget = r.budget_minutes ? fmt::format("{:.0f} min ({})", *r.budget_minutes, r.precision) : "-";
    out += fmt::format("| {} | {} | {} | {} | {} | {:.0f} s | {} | {} |\n", r.name, fraction_text(r.published),
                       fraction_text(r.target), ran ? fmt::format("{:.4f}", r.accuracy) : "-", r.epochs, r.seconds,
                       budget, r.status);
  }
  return out;
}

json summary_json(const std::string& title, const std::vector<ExperimentOutcome>& rows, int threads) {
  json list = json::array();
  for (const auto& r : rows) {
    list.push_back({{"experiment", r.name},
                    {"published", r.published ? json(*r.published) : json()},
                    {"target", r.target ? json(*r.target) : json()},
                    {"test_accuracy", r.accuracy},
                    {"epochs", r.epochs},
                    {"seconds", r.seconds},
                    {"status", r.status},
                    {"precision", r.precision},
                    {"budget_minutes", r.budget_minutes ? json(*r.budget_minutes) : json()},
                    {"run_dir", r.run_dir.string()}});
  }
  return {{"title", title},         {"date", utc_now_iso8601()},        {"host", host_name()}, {"cpu", cpu_info().summary()},
          {"threads", threads},      {"libtorch_version", libtorch_version()}, {"git_commit", git_commit()},
          {"results", list}};
}

std::vector<ExperimentOutcome> reproduce(const std::vector<fs::path>& configs, const std::string& title,
                                         const ReproduceOptions& options) {
  std::vector<ExperimentOutcome> rows;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& config : configs) {
    std::optional<double> minutes_left;
    if (options.budget_minutes > 0) {
      minutes_left = options.budget_minutes -
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
    }
    rows.push_back(run_one(config, options, minutes_left));
    const int threads = configure_threads(options.threads >= 0 ? options.threads : 0);
    write_file_atomic(options.out_dir / "summary.md", summary_markdown(title, rows, threads));
    write_json_file(options.out_dir / "summary.json", summary_json(title, rows, threads));
    if (stop_signal() != 0) break;  // Ctrl-C stops the whole reproduction, not just one run
  }
  return rows;
}

bool run_notebook(const Notebook& notebook, const fs::path& experiments_dir, const ReproduceOptions& options) {
  const fs::path grid = options.out_dir / (notebook.dataset + "_train_grid.png");
  write_data_grid(notebook.dataset, "train", 64, 0, grid);
  if (!options.quiet) spdlog::info("{}: {}", notebook.title, data_stats(notebook.dataset));
  spdlog::info("wrote {}", grid.string());
  std::vector<fs::path> configs;
  for (const auto& name : notebook.experiments) configs.push_back(experiments_dir / (name + ".json"));
  const auto rows = reproduce(configs, notebook.title, options);
  fmt::print("{}", summary_markdown(notebook.title, rows, configure_threads(options.threads >= 0 ? options.threads : 0)));
  return std::all_of(rows.begin(), rows.end(), [](const ExperimentOutcome& r) { return r.passed(); });
}

}  // namespace deepl::run
