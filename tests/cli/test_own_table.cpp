// `deepl train --data TABLE.csv --target COLUMN`: a CSV table with a text label through training,
// the reports, eval and predict on rows; a bad table stops before a run folder.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sstream>

#include "cli_util.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"

using namespace deepl;
using deepl::testing::history_without_timings;
using deepl::testing::max_abs_difference;
using deepl::testing::quoted;
using deepl::testing::run_deepl;
using deepl::testing::TempDir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kSpecies = {"setosa", "versicolor", "virginica (large)"};

// 150 rows of three well-separated clusters in 4 measurements, a quoted text label last, the
// species interleaved.
std::string flowers() {
  std::string text = "sepal length,sepal width,petal length,petal width,species\n";
  for (int i = 0; i < 150; ++i) {
    const int k = (i * 7) % 3;
    const double wobble = ((i * 37) % 11 - 5) * 0.05;
    text += fmt::format("{:.2f},{:.2f},{:.2f},{:.2f},\"{}\"\n", 5 + k + wobble, 3 - 0.3 * k - wobble, 1.5 + 2 * k + wobble,
                        0.2 + 0.9 * k, kSpecies[k]);
  }
  return text;
}

class OwnTable : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    write_file_atomic(*dir_ / "flowers.csv", flowers());
    const auto train = run_deepl("train -q --data " + quoted(*dir_ / "flowers.csv") + " --target species --set threads=1 "
                                 "--set train.epochs=15 --set optimizer.lr=0.01 --set data.batch_size=16 --out " +
                                 quoted(run()));
    ASSERT_EQ(train.code, 0) << train.output;
  }
  static void TearDownTestSuite() { delete dir_; }
  static fs::path run() { return *dir_ / "runs" / "flowers"; }
  static TempDir* dir_;
};
TempDir* OwnTable::dir_ = nullptr;

TEST_F(OwnTable, ATableTrainsAnMlpWithItsTextLabelsAsClasses) {
  const json metrics = read_json_file(run() / "metrics.json");
  EXPECT_GE(metrics.at("accuracy").get<double>(), 0.95) << metrics.dump();
  EXPECT_EQ(metrics.at("class_names"), json(kSpecies));
  const std::string confusion = read_file(run() / "confusion_matrix.csv");
  EXPECT_NE(confusion.find("virginica (large)"), std::string::npos) << confusion;
  const json config = read_json_file(run() / "config.json");
  EXPECT_EQ(config.at("data").at("dataset"), "csv");
  EXPECT_EQ(config.at("model").at("type"), "mlp");  // auto: a table
  const json files = read_json_file(run() / "data_files.json");
  EXPECT_EQ(files.at("test").size(), 30u);  // 0.2 of each species' 50 rows
  EXPECT_EQ(files.at("test").at(0).get<std::string>().rfind("flowers.csv:", 0), 0u);
  EXPECT_TRUE(fs::exists(run() / "confusion_matrix.png"));
  EXPECT_FALSE(fs::exists(run() / "misclassified.png"));  // a table has no pictures to show
}

TEST_F(OwnTable, EvalOfTheCheckpointGivesTheRunsOwnTestAccuracy) {
  const auto eval = run_deepl("eval -q --checkpoint " + quoted(run() / "checkpoints/best.pt") + " --out " +
                              quoted(*dir_ / "eval"));
  ASSERT_EQ(eval.code, 0) << eval.output;
  EXPECT_NEAR(read_json_file(*dir_ / "eval/metrics.json").at("accuracy").get<double>(),
              read_json_file(run() / "metrics.json").at("accuracy").get<double>(), 1e-6);
}

TEST_F(OwnTable, PredictTakesRowsOfACsvByColumnName) {
  // Columns in another order, an extra one, and no label: one prediction per row.
  write_file_atomic(*dir_ / "rows.csv",
                    "id,petal width,petal length,sepal width,sepal length\n"
                    "a,0.2,1.5,3.0,5.0\nb,1.1,3.5,2.7,6.0\nc,2.0,5.5,2.4,7.0\n");
  const auto predict = run_deepl("predict -q --checkpoint " + quoted(run() / "checkpoints/best.pt") + " --input " +
                                 quoted(*dir_ / "rows.csv"));
  ASSERT_EQ(predict.code, 0) << predict.output;
  std::istringstream lines(predict.output.substr(predict.output.find('{')));
  std::string line;
  std::vector<std::string> predicted;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != '{') continue;
    const json row = json::parse(line);
    EXPECT_EQ(row.at("index"), predicted.size());
    predicted.push_back(row.at("top").at(0).at("name"));
  }
  EXPECT_EQ(predicted, kSpecies);
  const auto pictures = run_deepl("predict -q --checkpoint " + quoted(run() / "checkpoints/best.pt") + " --input " +
                                  quoted(dir_->path()));
  EXPECT_EQ(pictures.code, 2) << pictures.output;
  EXPECT_NE(pictures.output.find("trained on a table"), std::string::npos) << pictures.output;
}

TEST_F(OwnTable, ConfigShowPrintsTheConfigATablePathStandsFor) {
  const auto show = run_deepl("config show --data " + quoted(*dir_ / "flowers.csv") + " --target species");
  ASSERT_EQ(show.code, 0) << show.output;
  const json config = json::parse(show.output);
  EXPECT_EQ(config.at("name"), "flowers");
  EXPECT_EQ(config.at("data").at("target"), "species");
  const auto no_target = run_deepl("train -q --data " + quoted(*dir_ / "flowers.csv"));
  EXPECT_EQ(no_target.code, 2) << no_target.output;
  EXPECT_NE(no_target.output.find("--target COLUMN"), std::string::npos) << no_target.output;
}

TEST_F(OwnTable, BadTablesStopBeforeAnyRunFolderNamingLineAndColumn) {
  TempDir tmp;
  std::string text = flowers();
  text.insert(text.find('\n', text.find('\n') + 1) + 1, "5.1,,1.4,0.2,setosa\n");  // a missing value on line 3
  write_file_atomic(tmp / "gap.csv", text);
  const auto gap = run_deepl("train -q --data " + quoted(tmp / "gap.csv") + " --target species --out " + quoted(tmp / "run"));
  EXPECT_EQ(gap.code, 3) << gap.output;
  EXPECT_NE(gap.output.find("gap.csv:3: column \"sepal width\": missing value"), std::string::npos) << gap.output;
  EXPECT_FALSE(fs::exists(tmp / "run"));
  const auto unknown = run_deepl("train -q --data " + quoted(*dir_ / "flowers.csv") + " --target kind --out " +
                                 quoted(tmp / "run"));
  EXPECT_EQ(unknown.code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("has no column \"kind\" (columns: sepal length, sepal width, petal length, petal width, "
                                "species)"),
            std::string::npos)
      << unknown.output;
  EXPECT_FALSE(fs::exists(tmp / "run"));
  const auto cnn = run_deepl("train -q --data " + quoted(*dir_ / "flowers.csv") + " --target species --model cnn --out " +
                             quoted(tmp / "run"));
  EXPECT_EQ(cnn.code, 2) << cnn.output;
  EXPECT_FALSE(fs::exists(tmp / "run"));
}

TEST_F(OwnTable, ResumeTwoProcessesAndSweepsTakeATableAsAnyDataSet) {
  TempDir tmp;
  const std::string train = "train -q --data " + quoted(*dir_ / "flowers.csv") + " --target species --set threads=1 ";
  ASSERT_EQ(run_deepl(train + "--set train.epochs=4 --out " + quoted(tmp / "straight")).code, 0);
  ASSERT_EQ(run_deepl(train + "--set train.epochs=2 --out " + quoted(tmp / "resumed")).code, 0);
  const auto resumed = run_deepl(train + "--set train.epochs=4 --out " + quoted(tmp / "resumed") + " --resume " +
                                 quoted(tmp / "resumed/checkpoints/last.pt"));
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_EQ(history_without_timings(tmp / "straight"), history_without_timings(tmp / "resumed"));

  const auto pair = run_deepl(train + "--set train.epochs=4 --nproc 2 --out " + quoted(tmp / "pair"));
  ASSERT_EQ(pair.code, 0) << pair.output;
  EXPECT_LE(max_abs_difference(tmp / "straight/checkpoints/last.pt", tmp / "pair/checkpoints/last.pt"), 1e-5);

  const auto show = run_deepl("config show --data " + quoted(*dir_ / "flowers.csv") + " --target species");
  ASSERT_EQ(show.code, 0) << show.output;
  const auto sweep = deepl::testing::run_grid_sweep(tmp.path(), show.output, {{"train.epochs", 2}, {"threads", 1}},
                                                    {{"optimizer.lr", {0.001, 0.01}}});
  ASSERT_EQ(sweep.code, 0) << sweep.output;
  const std::string summary = read_file(tmp / "sweep/summary.md");
  size_t finished = 0;
  for (size_t at = summary.find("| finished |"); at != std::string::npos; at = summary.find("| finished |", at + 1)) {
    ++finished;
  }
  EXPECT_EQ(finished, 2u) << summary;
}

}  // namespace
