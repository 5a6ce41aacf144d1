// report.html: one self-contained page per run folder, from the files the folder holds.
#include "deepl/run/run_report.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "deepl/core/files.h"
#include "deepl/report/html.h"
#include "deepl/run/runs.h"

namespace deepl::run {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The per-epoch table's columns: metrics.jsonl key, heading, number format.
struct EpochColumn {
  const char* key;
  const char* heading;
  const char* format;
};
constexpr EpochColumn kEpochColumns[] = {
    {"epoch", "epoch", "{:.0f}"},          {"train_loss", "train loss", "{:.4f}"}, {"train_accuracy", "train acc", "{:.4f}"},
    {"val_loss", "val loss", "{:.4f}"},    {"val_accuracy", "val acc", "{:.4f}"},  {"lr", "lr", "{:.4g}"},
    {"val_r2", "val r2", "{:.4f}"},        {"seconds", "seconds", "{:.2f}"},       {"examples_per_second", "examples/s", "{:.0f}"}};

std::string number_text(const json& j, const std::string& key, const char* format) {
  if (!j.is_object() || !j.contains(key)) return "-";
  const json& v = j[key];
  return v.is_number() ? fmt::format(fmt::runtime(format), v.get<double>()) : cell_text(v);
}

void summary_section(report::Page& page, const RunRow& row) {
  page.section("summary", "Summary");
  std::vector<std::pair<std::string, std::string>> facts;
  for (const auto& c : run_columns()) facts.emplace_back(c, column_text(c, row.cells[c]));
  page.facts(facts);
}

void manifest_section(report::Page& page, const RunFolder& run) {
  page.section("manifest", "Manifest");
  if (run.manifest.is_null()) return page.paragraph("No manifest.json in this folder.");
  std::vector<std::pair<std::string, std::string>> facts;
  for (const auto& [key, value] : flatten_json(run.manifest)) facts.emplace_back(key, cell_text(value));
  page.facts(facts);
}

void config_section(report::Page& page, const RunFolder& run) {
  page.section("config", "Config");
  if (run.config.is_null()) return page.paragraph("No config.json in this folder.");
  page.details("config.json (the resolved config)", run.config.dump(2));
}

void epochs_section(report::Page& page, const RunFolder& run) {
  page.section("epochs", "Per-epoch metrics");
  if (run.epochs.empty()) return page.paragraph("No epochs recorded (metrics.jsonl is missing or empty).");
  report::Table t;
  for (const auto& c : kEpochColumns) t.header.push_back(c.heading);
  for (const auto& e : run.epochs) {
    std::vector<std::string> line;
    for (const auto& c : kEpochColumns) line.push_back(number_text(e, c.key, c.format));
    t.rows.push_back(std::move(line));
  }
  page.table(t);
}

void curves_section(report::Page& page, const RunFolder& run) {
  page.section("curves", "Learning curves");
  if (!run.epochs.empty()) {
    const bool regression = run.epochs.front().contains("val_r2");
    for (const auto& [metric, title] : {std::pair{"loss", "Loss"}, regression ? std::pair{"r2", "R2"} : std::pair{"accuracy", "Accuracy"}}) {
      const std::string m = metric;
      report::Chart chart{title, "epoch", m, {epoch_series(run.epochs, "train_" + m, "train", report::series_color(0)),
                                              epoch_series(run.epochs, "val_" + m, "validation", report::series_color(1))}};
      page.raw(report::svg_line_chart(chart));
    }
  }
  if (fs::exists(run.dir / "learning_curves.png")) {
    page.image(run.dir / "learning_curves.png", "Learning curves: loss and accuracy per epoch, train and validation");
  } else if (run.epochs.empty()) {
    page.paragraph("No learning curves yet.");
  }
}

void test_section(report::Page& page, const RunFolder& run) {
  const std::string split = run.test.is_object() && run.test.contains("split") ? cell_text(run.test["split"]) : "test";
  page.section("metrics", fmt::format("Evaluation on the {} set", split));
  if (run.test.is_null()) return page.paragraph("No metrics.json: the run has not been evaluated (yet).");
  std::vector<std::pair<std::string, std::string>> facts;
  const bool regression = run.test.contains("r2");
  for (const char* key : regression ? std::vector<const char*>{"r2", "rmse", "mae", "loss"}
                                    : std::vector<const char*>{"accuracy", "macro_f1", "loss"}) {
    facts.emplace_back(key, number_text(run.test, key, "{:.4g}"));
  }
  for (const char* key : {"examples", "split", "checkpoint", "best_epoch", "epochs"}) {
    if (run.test.contains(key)) facts.emplace_back(key, cell_text(run.test[key]));
  }
  page.facts(facts);
  const json per_class = run.test.value("per_class", json::array());
  if (!per_class.is_array() || per_class.empty()) return;
  report::Table t{{"class", "precision", "recall", "F1", "support"}, {}, ""};
  for (const auto& c : per_class) {
    t.rows.push_back({number_text(c, "class", "{}"), number_text(c, "precision", "{:.4f}"),
                      number_text(c, "recall", "{:.4f}"), number_text(c, "f1", "{:.4f}"),
                      number_text(c, "support", "{:.0f}")});
  }
  page.section("per-class", "Per-class precision, recall and F1");
  page.table(t);
}

void figure_section(report::Page& page, const fs::path& png, const std::string& id, const std::string& heading,
                    const std::string& alt) {
  page.section(id, heading);
  if (fs::exists(png)) page.image(png, alt);
  else page.paragraph("No " + png.filename().string() + " in this folder.");
}

}  // namespace

fs::path write_run_report(const fs::path& dir) {
  const RunRow row = make_run_row(read_run_folder(dir));
  const RunFolder& run = row.run;
  const std::string status = run.status().empty() ? "" : " (" + run.status() + ")";
  report::Page page(fmt::format("deepl {}: {}{}", run.manifest.is_null() ? "evaluation" : "run", run.name(), status));
  summary_section(page, row);
  test_section(page, run);
  curves_section(page, run);
  epochs_section(page, run);
  if (fs::exists(dir / "predicted_vs_true.png")) {
    figure_section(page, dir / "predicted_vs_true.png", "predicted", "Predicted against true values",
                   "Scatter of each test example's predicted value against its true value, with the line where they agree");
  } else {
    figure_section(page, dir / "confusion_matrix.png", "confusion", "Confusion matrix",
                   "Confusion matrix heatmap: rows are the true classes, columns the predicted ones");
    figure_section(page, dir / "misclassified.png", "misclassified", "Most confident mistakes",
                   "Grid of misclassified images, each captioned true class as predicted class and confidence");
  }
  manifest_section(page, run);
  config_section(page, run);
  const fs::path out = dir / "report.html";
  write_file_atomic(out, page.html());
  spdlog::debug("wrote {}", out.string());
  return out;
}

}  // namespace deepl::run
