// `deepl runs` (the runs table, sorting, filtering, formats, malformed files) and report.html,
// on fake run folders; then on real ones trained by the binary, checked with an HTML parser.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <optional>
#include <sstream>

#include "../test_util.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/report/html.h"
#include "deepl/report/plot.h"
#include "deepl/run/run_report.h"
#include "deepl/run/runs.h"

using namespace deepl;
using deepl::testing::TempDir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct FakeRun {
  std::string name, status = "finished", model = "mlp", started;
  double lr = 0.01;
  std::vector<double> val_accuracy;  // one epoch each
  std::optional<double> test_accuracy;
};

fs::path write_fake_run(const fs::path& root, const FakeRun& r) {
  const fs::path dir = root / r.name;
  write_json_file(dir / "config.json", {{"name", r.name},
                                        {"seed", 1},
                                        {"model", {{"type", r.model}, {"hidden", {32}}}},
                                        {"optimizer", {{"type", "adam"}, {"lr", r.lr}}},
                                        {"data", {{"dataset", "mnist"}}}});
  write_json_file(dir / "manifest.json", {{"name", r.name},
                                          {"status", r.status},
                                          {"started", r.started},
                                          {"finished", r.status == "running" ? json() : json("2026-01-01T01:00:00Z")},
                                          {"wall_seconds", r.status == "running" ? 0.0 : 12.5},
                                          {"cpu", {{"model", "Test CPU"}, {"logical_cores", 2}}}});
  std::string jsonl;
  for (size_t i = 0; i < r.val_accuracy.size(); ++i) {
    jsonl += json{{"epoch", i + 1},      {"train_loss", 1.0 / double(i + 1)}, {"train_accuracy", 0.5},
                  {"val_loss", 0.9},     {"val_accuracy", r.val_accuracy[i]}, {"lr", r.lr},
                  {"seconds", 1.5},      {"examples_per_second", 1000.0}}
                 .dump() +
             "\n";
  }
  write_file_atomic(dir / "metrics.jsonl", jsonl);
  if (r.test_accuracy) {
    json per_class = json::array();
    for (const char* c : {"cat", "dog", "<bird>"}) per_class.push_back({{"class", c}, {"precision", 0.5}, {"recall", 0.25}, {"f1", 0.33}, {"support", 10}});
    write_json_file(dir / "metrics.json", {{"loss", 0.4}, {"accuracy", *r.test_accuracy}, {"macro_f1", 0.8},
                                           {"examples", 30}, {"per_class", per_class}, {"split", "test"}});
  }
  return dir;
}

// Three runs: finished, interrupted (no test metrics) and still running, started in that order.
class Runs : public ::testing::Test {
 protected:
  void SetUp() override {
    write_fake_run(dir_.path(), {"b_finished", "finished", "cnn", "2026-01-01T00:00:00Z", 0.1, {0.5, 0.9, 0.8}, 0.85});
    write_fake_run(dir_.path() / "nested", {"a_interrupted", "interrupted", "mlp", "2026-01-02T00:00:00Z", 0.01, {0.7, 0.6}, {}});
    write_fake_run(dir_.path(), {"c_running", "running", "mlp", "2026-01-03T00:00:00Z", 0.001,
                                 {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.95, 0.3}, {}});
  }
  std::vector<std::string> names(const run::RunsQuery& q) const {
    std::vector<std::string> out;
    for (const auto& r : run::list_runs(dir_.path(), q)) out.push_back(r.cells["name"]);
    return out;
  }
  TempDir dir_;
};

using Names = std::vector<std::string>;

// Collects what spdlog logs while alive.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace

TEST_F(Runs, FindsRunFoldersRecursivelyWithTheirStatusAndNumbers) {
  const auto rows = run::list_runs(dir_.path(), {});
  ASSERT_EQ(rows.size(), 3u);
  // Default order: started.
  EXPECT_EQ(rows[0].cells["name"], "b_finished");
  EXPECT_EQ(rows[0].cells["status"], "finished");
  EXPECT_EQ(rows[0].cells["model"], "cnn");
  EXPECT_EQ(rows[0].cells["epochs"], 3);
  EXPECT_DOUBLE_EQ(rows[0].cells["best_val_accuracy"].get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(rows[0].cells["test_accuracy"].get<double>(), 0.85);
  EXPECT_DOUBLE_EQ(rows[0].cells["wall_seconds"].get<double>(), 12.5);
  EXPECT_EQ(rows[1].cells["status"], "interrupted");
  EXPECT_TRUE(rows[1].cells["test_accuracy"].is_null()) << "an interrupted run was not evaluated";
  EXPECT_EQ(rows[1].cells["path"], (dir_.path() / "nested" / "a_interrupted").string());
  EXPECT_EQ(rows[2].cells["status"], "running");
  EXPECT_TRUE(rows[2].cells["wall_seconds"].is_null()) << "a running run has no wall time yet";
  EXPECT_EQ(rows[2].cells["epochs"], 10);
}

TEST_F(Runs, SortsNumbersNumericallyAscendingOrDescendingUnknownLast) {
  EXPECT_EQ(names({"epochs", {}}), (Names{"a_interrupted", "b_finished", "c_running"})) << "10 after 3, not before";
  EXPECT_EQ(names({"-epochs", {}}), (Names{"c_running", "b_finished", "a_interrupted"}));
  EXPECT_EQ(names({"-best_val_accuracy", {}}), (Names{"c_running", "b_finished", "a_interrupted"}));
  EXPECT_EQ(names({"test_accuracy", {}})[0], "b_finished");
  EXPECT_EQ(names({"-test_accuracy", {}})[0], "b_finished") << "unknown values last either way";
  EXPECT_EQ(names({"name", {}}), (Names{"a_interrupted", "b_finished", "c_running"}));
  EXPECT_EQ(names({"-started", {}}), (Names{"c_running", "a_interrupted", "b_finished"}));
}

TEST_F(Runs, FiltersOnColumnsAndDottedConfigKeys) {
  EXPECT_EQ(names({"name", {"model.type=mlp"}}), (Names{"a_interrupted", "c_running"}));
  EXPECT_EQ(names({"name", {"optimizer.lr=0.010"}}), (Names{"a_interrupted"})) << "numbers compare numerically";
  EXPECT_EQ(names({"name", {"status=finished"}}), (Names{"b_finished"}));
  EXPECT_EQ(names({"name", {"model.type=mlp", "status=running"}}), (Names{"c_running"})) << "every filter must match";
  EXPECT_EQ(names({"name", {"epochs=3"}}), (Names{"b_finished"}));
  EXPECT_TRUE(names({"name", {"model.hidden=[32]"}}).size() == 3) << "non-scalars compare as their JSON text";
  EXPECT_TRUE(names({"name", {"no.such.key=1"}}).empty());
}

TEST_F(Runs, UsageErrorsNameWhatIsWrong) {
  EXPECT_NE(deepl::testing::error_message([&] { run::list_runs(dir_.path(), {"epoch", {}}); }).find("did you mean \"epochs\""),
            std::string::npos);
  EXPECT_NE(deepl::testing::error_message([&] { run::list_runs(dir_.path(), {"name", {"model.type"}}); }).find("key=value"),
            std::string::npos);
  const std::string missing = (dir_.path() / "nope").string();
  EXPECT_NE(deepl::testing::error_message([&] { run::list_runs(missing, {}); }).find(missing), std::string::npos);
  EXPECT_NE(deepl::testing::error_message([&] { run::format_runs({}, "xml"); }).find("--format"), std::string::npos);
}

TEST_F(Runs, FormatsTableCsvAndJson) {
  const auto rows = run::list_runs(dir_.path(), {});
  const std::string table = run::format_runs(rows, "table");
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 4);
  EXPECT_EQ(table.rfind("name", 0), 0u);
  EXPECT_NE(table.find("0.9000"), std::string::npos) << table;
  EXPECT_NE(table.find("interrupted"), std::string::npos);
  const std::string csv = run::format_runs(rows, "csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "name,model,status,epochs,best_val_accuracy,test_accuracy,test_r2,wall_seconds,started,path");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);
  const json j = json::parse(run::format_runs(rows, "json"));
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[1]["status"], "interrupted");
  EXPECT_TRUE(j[1]["test_accuracy"].is_null());
  EXPECT_EQ(j[2]["epochs"], 10);
}

TEST_F(Runs, MalformedFilesAreWarnedAboutAndTheRunStillListed) {
  const fs::path bad = dir_.path() / "broken";
  write_fake_run(dir_.path(), {"broken", "finished", "mlp", "2026-01-04T00:00:00Z", 0.01, {0.4, 0.5}, 0.6});
  write_file_atomic(bad / "manifest.json", "{\"name\": ");
  write_file_atomic(bad / "metrics.jsonl", read_file(bad / "metrics.jsonl") + "{not json\n");
  write_file_atomic(bad / "metrics.json", "[1, 2]");
  LogCapture log;
  const auto rows = run::list_runs(dir_.path(), {"name", {}});
  ASSERT_EQ(rows.size(), 4u);
  const auto& row = rows[2];
  EXPECT_EQ(row.cells["name"], "broken") << "from config.json";
  EXPECT_TRUE(row.cells["status"].is_null());
  EXPECT_EQ(row.cells["epochs"], 2) << "the valid lines";
  EXPECT_TRUE(row.cells["test_accuracy"].is_null());
  const std::string warnings = log.text();
  for (const char* f : {"manifest.json", "metrics.jsonl: line 3", "metrics.json: not a JSON object"}) {
    EXPECT_NE(warnings.find((bad / f).string()), std::string::npos) << f << " in:\n" << warnings;
  }
  // The report of the broken folder is still written.
  const std::string html = read_file(run::write_run_report(bad));
  EXPECT_NE(html.find("No manifest.json"), std::string::npos);
}

TEST_F(Runs, ComparisonPageShowsOnlyDifferingConfigKeys) {
  const fs::path out = dir_.path() / "compare.html";
  run::write_runs_page(out, run::list_runs(dir_.path(), {}), "deepl runs: test");
  const std::string html = read_file(out);
  EXPECT_NE(html.find("<td>optimizer.lr</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>model.type</td>"), std::string::npos);
  EXPECT_EQ(html.find("<td>data.dataset</td>"), std::string::npos) << "same in every run";
  size_t lines = 0;
  for (size_t p = html.find("<polyline"); p != std::string::npos; p = html.find("<polyline", p + 1)) ++lines;
  EXPECT_EQ(lines, 6u) << "3 runs x (accuracy, loss)";
}

TEST(Report, EscapesAndEncodes) {
  EXPECT_EQ(report::escape_html("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(report::base64_encode(""), "");
  EXPECT_EQ(report::base64_encode("f"), "Zg==");
  EXPECT_EQ(report::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(report::base64_encode("foo"), "Zm9v");
  EXPECT_EQ(report::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(report::base64_encode(std::string("\xff\x00\x80", 3)), "/wCA");
}

TEST(Report, SvgChartHasALinePerSeriesAndALegend) {
  const report::Chart chart{"Loss <per epoch>", "epoch", "loss",
                            {{"train", {1, 2, 3}, {1.0, 0.5, 0.25}, 0x1f77b4}, {"one point", {1}, {0.7}, 0xff7f0e}}};
  const std::string svg = report::svg_line_chart(chart);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("<title>Loss &lt;per epoch&gt;</title>"), std::string::npos);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("<circle"), std::string::npos) << "a single point is a marker";
  EXPECT_NE(svg.find(">one point</text>"), std::string::npos);
  EXPECT_EQ(svg.find("http"), std::string::npos);
}

TEST(Report, RunReportHasEverySectionAndTheFiguresEmbedded) {
  TempDir dir;
  const fs::path run = write_fake_run(dir.path(), {"my <run>", "finished", "mlp", "2026-01-01T00:00:00Z", 0.01, {0.5, 0.6}, 0.7});
  report::write_confusion_matrix_png(run / "confusion_matrix.png", {5, 1, 2, 6}, {"a", "b"}, "cm");
  const std::string html = read_file(run::write_run_report(run));
  for (const char* id : {"summary", "metrics", "per-class", "curves", "epochs", "confusion", "misclassified", "manifest", "config"}) {
    EXPECT_NE(html.find(fmt::format("<section id=\"{}\">", id)), std::string::npos) << id;
  }
  EXPECT_NE(html.find("<title>deepl run: my &lt;run&gt; (finished)</title>"), std::string::npos);
  EXPECT_NE(html.find("name=\"viewport\""), std::string::npos);
  EXPECT_NE(html.find("<img src=\"data:image/png;base64,iVBORw0KGgo"), std::string::npos);
  EXPECT_NE(html.find("No misclassified.png"), std::string::npos);
  EXPECT_NE(html.find("<td>&lt;bird&gt;</td>"), std::string::npos);
  EXPECT_NE(html.find("<details><summary>config.json"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

TEST(Report, RunningRunAndEvalFolderGetReportsOfWhatTheyHave) {
  TempDir dir;
  const fs::path running = write_fake_run(dir.path(), {"r", "running", "mlp", "2026-01-01T00:00:00Z", 0.01, {}, {}});
  const std::string html = read_file(run::write_run_report(running));
  EXPECT_NE(html.find("(running)"), std::string::npos);
  EXPECT_NE(html.find("has not been evaluated"), std::string::npos);
  EXPECT_NE(html.find("No epochs recorded"), std::string::npos);
  const fs::path eval = dir.path() / "eval";
  write_json_file(eval / "metrics.json", {{"accuracy", 0.5}, {"loss", 1.0}, {"split", "val"}, {"per_class", json::array()}});
  const std::string e = read_file(run::write_run_report(eval));
  EXPECT_NE(e.find("<title>deepl evaluation: eval</title>"), std::string::npos);
  EXPECT_NE(e.find("Evaluation on the val set"), std::string::npos);
}

namespace {

std::string deepl_command(const std::string& args) { return std::string(DEEPL_BIN) + " " + args; }

// Debian's Python, which has python3-lxml (scripts/setup), whatever python3 comes first in PATH.
deepl::testing::CommandResult check_html(const std::string& args) {
  return deepl::testing::run_command("/usr/bin/python3 " + std::string(DEEPL_SOURCE_DIR) + "/tests/cli/check_html.py " + args);
}

fs::path write_tiny_config(const fs::path& root, const std::string& name, double lr) {
  const json cfg = {{"name", name},
                    {"seed", 3},
                    {"threads", 1},
                    {"data", {{"dataset", "mnist"}, {"root", root.string()}, {"val_fraction", 0.2}, {"batch_size", 32},
                              {"eval_batch_size", 100}}},
                    {"model", {{"type", "mlp"}, {"hidden", {16}}}},
                    {"optimizer", {{"type", "adam"}, {"lr", lr}}},
                    {"train", {{"epochs", 2}}},
                    {"output", {{"dir", (root / "runs").string()}}}};
  write_json_file(root / (name + ".json"), cfg);
  return root / (name + ".json");
}

}  // namespace

TEST(ReportCli, TrainedRunsEvalFolderAndComparisonPagePassTheHtmlChecker) {
  TempDir dir;
  deepl::testing::write_synthetic_dataset(dir.path(), "mnist", 300, 100);
  for (const auto& [name, lr] : {std::pair{"slow", 0.001}, std::pair{"fast", 0.003}}) {
    const auto train = deepl::testing::run_command(deepl_command("train --quiet --config " + write_tiny_config(dir.path(), name, lr).string()));
    ASSERT_EQ(train.code, 0) << train.output;
  }
  const fs::path runs = dir / "runs";
  const auto eval = deepl::testing::run_command(
      deepl_command("eval --quiet --checkpoint " + (runs / "fast/checkpoints/best.pt").string() + " --out " + (dir / "eval").string()));
  ASSERT_EQ(eval.code, 0) << eval.output;

  const auto listed = deepl::testing::run_command(deepl_command("runs " + runs.string() + " --format json --sort -started"));
  ASSERT_EQ(listed.code, 0) << listed.output;
  const json rows = json::parse(listed.output);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["name"], "fast") << "trained second: first when sorted by -started";
  EXPECT_EQ(rows[0]["status"], "finished");
  EXPECT_EQ(rows[0]["epochs"], 2);
  EXPECT_TRUE(rows[0]["test_accuracy"].is_number());
  const auto filtered = deepl::testing::run_command(deepl_command("runs " + runs.string() + " --filter optimizer.lr=0.003"));
  EXPECT_EQ(filtered.code, 0) << filtered.output;
  EXPECT_EQ(std::count(filtered.output.begin(), filtered.output.end(), '\n'), 2) << filtered.output;
  const auto missing = deepl::testing::run_command(deepl_command("runs " + (dir / "nope").string()));
  EXPECT_EQ(missing.code, 2) << missing.output;
  EXPECT_NE(missing.output.find((dir / "nope").string()), std::string::npos) << missing.output;

  const fs::path page = dir / "compare.html";
  const auto html = deepl::testing::run_command(deepl_command("runs " + runs.string() + " --html " + page.string()));
  ASSERT_EQ(html.code, 0) << html.output;
  for (const auto& args : {"report " + (runs / "fast/report.html").string() + " --epochs 2 --classes 10",
                           "report " + (dir / "eval/report.html").string() + " --eval --classes 10",
                           "runs " + page.string() + " --runs 2 --differing name optimizer.lr"}) {
    const auto checked = check_html(args);
    EXPECT_EQ(checked.code, 0) << args << ":\n" << checked.output;
  }
}
