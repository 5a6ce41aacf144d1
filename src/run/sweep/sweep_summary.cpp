// Sweep results: each trial read from its folder, ranked, and written as summary.csv, summary.md,
// best.json and sweep.png.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "deepl/core/csv.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/report/plot.h"
#include "deepl/run/runs.h"
#include "deepl/run/sweep.h"

namespace deepl::run {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::optional<double> number_at(const json& object, const std::string& key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_number()) return std::nullopt;
  return object[key].get<double>();
}

bool better(const Sweep& sweep, double a, double b) { return sweep.maximize ? a > b : a < b; }

// Where an outcome sorts: trials with a metric, then failed ones, then the rest.
int group_of(const TrialOutcome& o) {
  if (o.status == "failed") return 1;
  return o.metric ? 0 : 2;
}

std::string metric_text(const std::optional<double>& v) { return v ? fmt::format("{:.4f}", *v) : "-"; }

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::vector<std::string> csv_header(const Sweep& sweep) {
  std::vector<std::string> header = {"rank",          "trial",  "status",       sweep.metric,
                                     "test_accuracy", "epochs", "train_seconds"};
  for (const auto& d : sweep.space) header.push_back(d.key);
  header.insert(header.end(), {"folder", "error"});
  return header;
}

std::string summary_csv(const Sweep& sweep, const SweepSummary& summary) {
  std::string out = fmt::format("{}\n", fmt::join(csv_header(sweep), ","));
  int rank = 0;
  for (const auto& o : summary.ranked) {
    std::vector<std::string> row = {std::to_string(++rank),
                                    std::to_string(o.trial.index),
                                    o.status,
                                    o.metric ? fmt::format("{:.6g}", *o.metric) : "",
                                    o.test_accuracy ? fmt::format("{:.6g}", *o.test_accuracy) : "",
                                    std::to_string(o.epochs),
                                    fmt::format("{:.1f}", o.seconds)};
    for (const auto& kv : o.trial.values) row.push_back(value_text(kv.second));
    row.push_back(o.trial.folder);
    row.push_back(o.error);
    for (auto& field : row) field = deepl::csv_field(field);
    out += fmt::format("{}\n", fmt::join(row, ","));
  }
  return out;
}

// The metric against one searched key, one series per epoch count (halving rungs); lists and
// strings are placed at their index among the key's values.
report::Chart key_chart(const Sweep& sweep, size_t key_index, const SweepSummary& summary) {
  const SearchDimension& d = sweep.space[key_index];
  // Non-numbers in the order the sweep file lists them (drawn ones in the order they were drawn).
  std::vector<std::string> categories;
  const auto add_category = [&](const json& v) {
    if (!v.is_number() && std::find(categories.begin(), categories.end(), value_text(v)) == categories.end()) {
      categories.push_back(value_text(v));
    }
  };
  for (const auto& v : d.values) add_category(v);
  for (const auto& o : summary.ranked) add_category(o.trial.values[key_index].second);
  std::string x_label = d.log_scale() ? "log10 " + d.key : d.key;
  if (!categories.empty()) {
    x_label += ":";
    for (size_t i = 0; i < categories.size(); ++i) x_label += fmt::format(" {}={}", i, categories[i]);
  }
  const uint32_t palette[] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b};
  std::map<int64_t, report::Series> by_epochs;
  for (const auto& o : summary.ranked) {
    if (!o.metric) continue;
    const json& v = o.trial.values[key_index].second;
    double x =
        v.is_number()
            ? v.get<double>()
            : static_cast<double>(std::find(categories.begin(), categories.end(), value_text(v)) - categories.begin());
    if (d.log_scale()) x = std::log10(x);
    report::Series& s = by_epochs[o.epochs];
    s.points = true;
    s.x.push_back(x);
    s.y.push_back(*o.metric);
  }
  report::Chart chart{fmt::format("{} by {}", sweep.metric, d.key), x_label, sweep.metric, {}};
  size_t colour = 0;
  for (auto& [epochs, series] : by_epochs) {
    series.name = fmt::format("{} epoch{}", epochs, epochs == 1 ? "" : "s");
    series.rgb = palette[colour++ % std::size(palette)];
    chart.series.push_back(std::move(series));
  }
  return chart;
}

void write_sweep_png(const Sweep& sweep, const SweepSummary& summary) {
  std::vector<report::Chart> charts;
  for (size_t i = 0; i < sweep.space.size(); ++i) charts.push_back(key_chart(sweep, i, summary));
  if (std::none_of(charts.begin(), charts.end(), [](const report::Chart& c) { return !c.series.empty(); })) return;
  report::write_charts_png(sweep.out_dir / "sweep.png", charts);
}

void write_best_config(const Sweep& sweep, const SweepSummary& summary) {
  for (const auto& o : summary.ranked) {
    if (o.status != "finished" || !o.metric) continue;
    const fs::path config = o.dir / "config.json";
    if (fs::exists(config)) write_json_file(sweep.out_dir / "best.json", read_json_file(config));
    return;
  }
}

}  // namespace

TrialOutcome read_trial_outcome(const Sweep& sweep, const Trial& trial, int64_t upto_epochs) {
  TrialOutcome o;
  o.trial = trial;
  o.dir = sweep.out_dir / "trials" / trial.folder;
  o.status = "pending";
  if (!fs::exists(o.dir)) return o;
  const RunFolder run = read_run_folder(o.dir);
  if (!run.status().empty()) o.status = run.status();
  const json state = read_object_tolerant(o.dir / "trial.json");
  if (state.is_object() && state.value("status", "") == "failed") {
    o.status = "failed";
    o.error = state.value("error", "");
  }
  for (const auto& epoch : run.epochs) {
    if (upto_epochs > 0 && o.epochs >= upto_epochs) break;
    ++o.epochs;
    o.seconds += number_at(epoch, "seconds").value_or(0.0);
    // A regression's trials report val_r2 where a classifier's report val_accuracy (as its monitors do).
    auto m = number_at(epoch, sweep.metric);
    if (!m && sweep.metric == "val_accuracy") m = number_at(epoch, "val_r2");
    if (m && std::isfinite(*m) && (!o.metric || better(sweep, *m, *o.metric))) o.metric = m;
  }
  o.test_accuracy = number_at(run.test, "accuracy");
  return o;
}

SweepSummary summarize_sweep(const Sweep& sweep) {
  SweepSummary summary;
  for (const auto& trial : expand_trials(sweep)) summary.ranked.push_back(read_trial_outcome(sweep, trial));
  for (const auto& o : summary.ranked) summary.epochs_spent += o.epochs;
  summary.epochs_full = sweep.epochs * static_cast<int64_t>(summary.ranked.size());
  const bool by_budget = sweep.method == "halving";
  std::stable_sort(summary.ranked.begin(), summary.ranked.end(), [&](const TrialOutcome& a, const TrialOutcome& b) {
    if (group_of(a) != group_of(b)) return group_of(a) < group_of(b);
    if (group_of(a) != 0) return a.trial.index < b.trial.index;
    if (by_budget && a.epochs != b.epochs) return a.epochs > b.epochs;  // the trials that went furthest first
    return better(sweep, *a.metric, *b.metric);
  });
  ensure_directory(sweep.out_dir);
  write_file_atomic(sweep.out_dir / "summary.csv", summary_csv(sweep, summary));
  write_file_atomic(sweep.out_dir / "summary.md", summary_markdown(sweep, summary));
  write_best_config(sweep, summary);
  write_sweep_png(sweep, summary);
  return summary;
}

std::string summary_markdown(const Sweep& sweep, const SweepSummary& summary) {
  std::string out = fmt::format("# Sweep {}: {} over {} trials of {} (`{}`, {} best)\n\n", sweep.name, sweep.method,
                                summary.ranked.size(), sweep.experiment.stem().string(), sweep.metric,
                                sweep.maximize ? "highest" : "lowest");
  std::vector<std::string> header = {"rank", "trial"};
  for (const auto& d : sweep.space) header.push_back("`" + d.key + "`");
  header.insert(header.end(), {sweep.metric, "test accuracy", "epochs", "train s", "status"});
  std::string separator = "|";
  for (size_t i = 0; i < header.size(); ++i) separator += "---|";
  out += fmt::format("| {} |\n{}\n", fmt::join(header, " | "), separator);
  int rank = 0;
  for (const auto& o : summary.ranked) {
    std::vector<std::string> row = {std::to_string(++rank), std::to_string(o.trial.index)};
    for (const auto& kv : o.trial.values) row.push_back(value_text(kv.second));
    row.insert(row.end(), {metric_text(o.metric), metric_text(o.test_accuracy), std::to_string(o.epochs),
                           fmt::format("{:.0f}", o.seconds), o.error.empty() ? o.status : o.status + ": " + o.error});
    for (auto& cell : row) std::replace(cell.begin(), cell.end(), '|', '/');
    out += fmt::format("| {} |\n", fmt::join(row, " | "));
  }
  out += fmt::format("\nEpochs trained: {} ({:.0f}% of the {} that every trial trained to {} epochs would take).\n",
                     summary.epochs_spent,
                     summary.epochs_full > 0
                         ? 100.0 * static_cast<double>(summary.epochs_spent) / static_cast<double>(summary.epochs_full)
                         : 0.0,
                     summary.epochs_full, sweep.epochs);
  if (!summary.ranked.empty() && summary.ranked.front().status == "finished") {
    out += fmt::format("Best: trial {} (`{}`); its config is best.json.\n", summary.ranked.front().trial.index,
                       summary.ranked.front().trial.folder);
  }
  return out;
}

std::string list_trials(const Sweep& sweep) {
  std::string out;
  for (const auto& trial : expand_trials(sweep)) {
    const TrialOutcome o = read_trial_outcome(sweep, trial);
    std::vector<std::string> values;
    for (const auto& [key, value] : trial.values) values.push_back(key + "=" + value.dump());
    out += fmt::format("{:3d}  {:<10} {}  {}\n", trial.index, o.status, trial.folder, fmt::join(values, " "));
  }
  return out;
}

}  // namespace deepl::run
