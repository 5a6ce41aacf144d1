// `deepl runs --html`: the comparison page of several runs.
#include <fmt/format.h>

#include <map>

#include "deepl/core/files.h"
#include "deepl/report/html.h"
#include "deepl/run/runs.h"

namespace deepl::run {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

report::Table runs_table(const std::vector<RunRow>& rows) {
  report::Table t;
  t.header = run_columns();
  for (const auto& r : rows) {
    std::vector<std::string> line;
    for (const auto& c : run_columns()) line.push_back(column_text(c, r.cells[c]));
    t.rows.push_back(std::move(line));
  }
  return t;
}

// What to call each run on the page: its name, or its folder's name when two runs share a name
// (the same experiment with different --set values).
std::vector<std::string> run_labels(const std::vector<RunRow>& rows) {
  std::map<std::string, int> uses;
  for (const auto& r : rows) ++uses[r.run.name()];
  std::vector<std::string> labels;
  for (const auto& r : rows) {
    labels.push_back(uses[r.run.name()] > 1 ? r.run.dir.lexically_normal().filename().string() : r.run.name());
  }
  return labels;
}

report::Chart overlaid(const std::vector<RunRow>& rows, const std::string& key, const std::string& title,
                       const std::string& y_label) {
  report::Chart chart{title, "epoch", y_label, {}};
  const auto labels = run_labels(rows);
  for (size_t i = 0; i < rows.size(); ++i) {
    chart.series.push_back(epoch_series(rows[i].run.epochs, key, labels[i], report::series_color(i)));
  }
  return chart;
}

// The dotted config keys whose values differ between the runs (absent counts as a value).
report::Table config_diff(const std::vector<RunRow>& rows) {
  std::map<std::string, std::vector<json>> values;
  for (size_t i = 0; i < rows.size(); ++i) {
    for (auto& [key, value] : flatten_json(rows[i].run.config)) {
      auto& column = values[key];
      column.resize(rows.size());
      column[i] = std::move(value);
    }
  }
  report::Table t;
  t.header = {"key"};
  for (const auto& label : run_labels(rows)) t.header.push_back(label);
  for (const auto& entry : values) {
    const std::string& key = entry.first;
    const std::vector<json>& column = entry.second;
    if (std::all_of(column.begin(), column.end(), [&](const json& v) { return v == column.front(); })) continue;
    std::vector<std::string> line = {key};
    for (const auto& v : column) line.push_back(cell_text(v));
    t.rows.push_back(std::move(line));
  }
  return t;
}

}  // namespace

void write_runs_page(const fs::path& out, const std::vector<RunRow>& rows, const std::string& title) {
  report::Page page(title);
  page.section("runs", fmt::format("Runs ({})", rows.size()));
  page.table(runs_table(rows));
  page.section("curves", "Validation curves");
  page.raw(report::svg_line_chart(overlaid(rows, "val_accuracy", "Validation accuracy", "accuracy")));
  page.raw(report::svg_line_chart(overlaid(rows, "val_loss", "Validation loss", "loss")));
  page.section("config-diff", "Config differences");
  const report::Table diff = config_diff(rows);
  if (rows.size() < 2) {
    page.paragraph("Fewer than two runs: nothing to compare.");
  } else if (diff.rows.empty()) {
    page.paragraph("The runs' configs are identical.");
  } else {
    page.paragraph("Only the config keys whose values differ between the runs (- where a run's config lacks the key).");
    page.table(diff);
  }
  write_file_atomic(out, page.html());
}

}  // namespace deepl::run
