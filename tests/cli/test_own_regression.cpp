// `deepl train --data TABLE.csv --target COLUMN` on a quantity: a regression through training, its
// r2/rmse/mae reports, eval, predict, the runs listing, two processes, a TorchScript module and ONNX
// export; what only makes sense for classes is refused before a run folder.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "../torchscript_modules.h"
#include "cli_util.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"

using namespace deepl;
using deepl::testing::max_abs_difference;
using deepl::testing::quoted;
using deepl::testing::run_deepl;
using deepl::testing::TempDir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The house price a row's features give: linear in area, a bend in age, nothing from the noise column.
double price_of(double area, double age) { return 50 + 2.5 * area - 0.02 * (age - 30) * (age - 30); }

// 400 houses; the price (a fraction, so a quantity) is the last column.
std::string houses() {
  std::string text = "area,age,noise,price\n";
  for (int i = 0; i < 400; ++i) {
    const double area = 40 + (i * 37) % 121, age = (i * 13) % 59, noise = (i * 7) % 5;
    text += fmt::format("{},{},{},{:.3f}\n", area, age, noise, price_of(area, age));
  }
  return text;
}

// The first epoch's line of a run's metrics.jsonl.
json first_epoch(const fs::path& run_dir) {
  const std::string lines = read_file(run_dir / "metrics.jsonl");
  return json::parse(lines.substr(0, lines.find('\n')));
}

class OwnRegression : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    write_file_atomic(*dir_ / "houses.csv", houses());
    const auto train = run_deepl(train_command() + "--out " + quoted(run()));
    ASSERT_EQ(train.code, 0) << train.output;
    output_ = new std::string(train.output);
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete output_;
  }
  static std::string train_command() {
    return "train -q --data " + quoted(*dir_ / "houses.csv") + " --target price --set threads=1 --set train.epochs=40 "
           "--set optimizer.lr=0.01 --set data.batch_size=16 ";
  }
  static fs::path run() { return *dir_ / "runs" / "houses"; }
  static TempDir* dir_;
  static std::string* output_;
};
TempDir* OwnRegression::dir_ = nullptr;
std::string* OwnRegression::output_ = nullptr;

TEST_F(OwnRegression, AQuantityTrainsARegressionReportedAsR2RmseAndMae) {
  const json metrics = read_json_file(run() / "metrics.json");
  EXPECT_GE(metrics.at("r2").get<double>(), 0.97) << metrics.dump();
  // The prices spread over ~300: an rmse of a few units is a close fit, in the target's own units.
  EXPECT_LT(metrics.at("rmse").get<double>(), 15.0) << metrics.dump();
  EXPECT_LE(metrics.at("mae").get<double>(), metrics.at("rmse").get<double>());
  EXPECT_EQ(metrics.at("target"), "price");
  EXPECT_EQ(metrics.at("examples"), 80);
  EXPECT_FALSE(metrics.contains("accuracy"));
  EXPECT_NE(output_->find("test r2 "), std::string::npos) << *output_;
  EXPECT_TRUE(fs::exists(run() / "predicted_vs_true.png"));
  EXPECT_FALSE(fs::exists(run() / "confusion_matrix.png"));
  EXPECT_FALSE(fs::exists(run() / "confusion_matrix.csv"));
  const json epoch = first_epoch(run());
  EXPECT_TRUE(epoch.at("val_r2").is_number()) << epoch.dump();
  EXPECT_TRUE(epoch.at("train_accuracy").is_null()) << epoch.dump();
  const std::string report = read_file(run() / "report.html");
  EXPECT_NE(report.find("Predicted against true values"), std::string::npos);
  EXPECT_EQ(report.find("Confusion matrix"), std::string::npos);
}

TEST_F(OwnRegression, EvalGivesTheRunsOwnR2AndRunsListsIt) {
  const auto eval = run_deepl("eval -q --checkpoint " + quoted(run() / "checkpoints/best.pt") + " --out " +
                              quoted(*dir_ / "eval"));
  ASSERT_EQ(eval.code, 0) << eval.output;
  const double r2 = read_json_file(run() / "metrics.json").at("r2");
  EXPECT_NEAR(read_json_file(*dir_ / "eval/metrics.json").at("r2").get<double>(), r2, 1e-9);
  EXPECT_NE(eval.output.find(fmt::format("r2 {:.4f}", r2)), std::string::npos) << eval.output;
  const auto runs = run_deepl("runs --format json " + quoted(*dir_ / "runs"));
  ASSERT_EQ(runs.code, 0) << runs.output;
  EXPECT_NE(runs.output.find("\"test_r2\""), std::string::npos) << runs.output;
}

TEST_F(OwnRegression, PredictWritesEachRowsValueInTheTargetsUnits) {
  write_file_atomic(*dir_ / "rows.csv", "noise,age,area\n0,30,100\n3,10,60\n1,50,150\n");
  const auto predict = run_deepl("predict -q --checkpoint " + quoted(run() / "checkpoints/best.pt") + " --input " +
                                 quoted(*dir_ / "rows.csv"));
  ASSERT_EQ(predict.code, 0) << predict.output;
  std::istringstream lines(predict.output.substr(predict.output.find('{')));
  const std::vector<std::pair<double, double>> rows = {{100, 30}, {60, 10}, {150, 50}};
  std::string line;
  size_t seen = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != '{') continue;
    const json row = json::parse(line);
    ASSERT_LT(seen, rows.size());
    EXPECT_EQ(row.at("index"), seen);
    EXPECT_NEAR(row.at("value").get<double>(), price_of(rows[seen].first, rows[seen].second), 20.0) << line;
    ++seen;
  }
  EXPECT_EQ(seen, rows.size());
}

TEST_F(OwnRegression, TwoProcessesTrainTheSameWeights) {
  TempDir tmp;
  const std::string train = train_command() + "--set train.epochs=3 ";
  ASSERT_EQ(run_deepl(train + "--out " + quoted(tmp / "one")).code, 0);
  const auto pair = run_deepl(train + "--nproc 2 --out " + quoted(tmp / "pair"));
  ASSERT_EQ(pair.code, 0) << pair.output;
  EXPECT_LE(max_abs_difference(tmp / "one/checkpoints/last.pt", tmp / "pair/checkpoints/last.pt"), 1e-5);
  EXPECT_NEAR(first_epoch(tmp / "one").at("val_r2").get<double>(), first_epoch(tmp / "pair").at("val_r2").get<double>(),
              1e-5)
      << "validation sums its errors over both ranks";
}

TEST_F(OwnRegression, ASweepRanksItsTrialsByValidationR2) {
  TempDir tmp;
  const auto show = run_deepl("config show --data " + quoted(*dir_ / "houses.csv") + " --target price");
  ASSERT_EQ(show.code, 0) << show.output;
  const auto sweep = deepl::testing::run_grid_sweep(tmp.path(), show.output, {{"train.epochs", 3}, {"threads", 1}},
                                                    {{"optimizer.lr", {0.0001, 0.01}}});
  ASSERT_EQ(sweep.code, 0) << sweep.output;
  const json best = read_json_file(tmp / "sweep/best.json");
  EXPECT_EQ(best.dump().find("0.0001"), std::string::npos) << "lr 0.01 fits far better in 3 epochs: " << best.dump();
}

TEST_F(OwnRegression, ATorchScriptModuleLearnsTheQuantityToo) {
  TempDir tmp;
  deepl::testing::save_module(deepl::testing::two_branch_module(3, 1, 16, 0.0), tmp / "net.pt");
  const auto train = run_deepl(train_command() + "--set model.type=torchscript --set model.path=" + quoted(tmp / "net.pt") +
                               " --out " + quoted(tmp / "run"));
  ASSERT_EQ(train.code, 0) << train.output;
  const json metrics = read_json_file(tmp / "run/metrics.json");
  EXPECT_GE(metrics.at("r2").get<double>(), 0.9) << metrics.dump();
  EXPECT_EQ(read_json_file(tmp / "run/config.json").at("model").at("type"), "torchscript");
}

TEST_F(OwnRegression, WhatOnlyClassesHaveIsRefusedBeforeARunFolder) {
  TempDir tmp;
  for (const char* model : {"resnet", "logistic"}) {
    const auto refused = run_deepl(train_command() + "--model " + model + " --out " + quoted(tmp / "run"));
    EXPECT_EQ(refused.code, 2) << refused.output;
    EXPECT_NE(refused.output.find("cannot learn the regression target \"price\""), std::string::npos) << refused.output;
  }
  const auto smoothing = run_deepl(train_command() + "--set train.label_smoothing=0.1 --out " + quoted(tmp / "run"));
  EXPECT_EQ(smoothing.code, 2) << smoothing.output;
  const auto pictures = run_deepl("train -q --config " + quoted(fs::path(DEEPL_SOURCE_DIR) / "experiments/mlp_mnist.json") +
                                  " --set data.task=regression --out " + quoted(tmp / "run"));
  EXPECT_EQ(pictures.code, 2) << pictures.output;
  EXPECT_NE(pictures.output.find("/data/task"), std::string::npos) << pictures.output;
  EXPECT_FALSE(fs::exists(tmp / "run"));
}

TEST_F(OwnRegression, OnnxExportBringsTheValueBackToTheTargetsUnits) {
  const fs::path onnx = *dir_ / "houses.onnx";
  const auto exported = run_deepl("export --checkpoint " + quoted(run() / "checkpoints/best.pt") + " --format onnx --out " +
                                  quoted(onnx));
  ASSERT_EQ(exported.code, 0) << exported.output;
  const std::string bytes = read_file(onnx);
  for (const char* name : {"value", "target_std", "target_mean", "regression (value"}) {
    EXPECT_NE(bytes.find(name), std::string::npos) << name;
  }
}

}  // namespace
