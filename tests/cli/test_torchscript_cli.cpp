// `deepl train` with model.type "torchscript": a module saved by TorchScript trains like a
// built-in model (reports, eval, exact resume also with --resume auto, sweeps, two processes), its
// file is pinned by SHA-256, and `deepl export --format torchscript` gives the trained module back.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "../torchscript_modules.h"
#include "cli_util.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/io/pytorch_file.h"

using namespace deepl;
using deepl::testing::history_without_timings;
using deepl::testing::max_abs_difference;
using deepl::testing::quoted;
using deepl::testing::run_deepl;
using deepl::testing::TempDir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

class TorchScriptCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    deepl::testing::write_synthetic_dataset(dir_->path(), "mnist", 2000, 300);
    // Without dropout: two ranks draw other masks than one process, and the test compares them.
    deepl::testing::save_module(deepl::testing::two_branch_module(28 * 28, 10, 32, 0.0), module());
    write_json_file(*dir_ / "scripted.json",
                    {{"name", "scripted"},
                     {"seed", 3},
                     {"data", {{"root", dir_->path().string()}, {"val_fraction", 0.2}, {"batch_size", 32}}},
                     {"model", {{"type", "torchscript"}, {"path", module().string()}}},
                     {"optimizer", {{"type", "adam"}, {"lr", 0.001}}},
                     {"train", {{"epochs", 2}}}});
    const auto train = run_deepl(train_command(2) + "--out " + quoted(run()));
    ASSERT_EQ(train.code, 0) << train.output;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string train_command(int epochs) {
    return fmt::format("train -q --threads 1 --config {} --set train.epochs={} ", quoted(*dir_ / "scripted.json"), epochs);
  }
  static fs::path module() { return *dir_ / "two_branch.pt"; }
  static fs::path run() { return *dir_ / "runs" / "scripted"; }
  static fs::path best() { return run() / "checkpoints" / "best.pt"; }
  static TempDir* dir_;
};
TempDir* TorchScriptCli::dir_ = nullptr;

TEST_F(TorchScriptCli, TrainsEvaluatesAndRecordsTheModulesSha256) {
  const json metrics = read_json_file(run() / "metrics.json");
  EXPECT_GE(metrics.at("accuracy").get<double>(), 0.6) << metrics.dump();
  EXPECT_EQ(read_json_file(run() / "config.json").at("model").at("sha256"), sha256_of_file(module()));
  const auto eval = run_deepl("eval -q --checkpoint " + quoted(best()) + " --out " + quoted(*dir_ / "eval"));
  ASSERT_EQ(eval.code, 0) << eval.output;
  EXPECT_NEAR(read_json_file(*dir_ / "eval/metrics.json").at("accuracy").get<double>(),
              metrics.at("accuracy").get<double>(), 1e-9);
  const auto summary = run_deepl("model summary --config " + quoted(*dir_ / "scripted.json"));
  ASSERT_EQ(summary.code, 0) << summary.output;
  const std::string output_shape = fmt::format("{:<28} {:<18}", "TorchScript forward", "10");  // the logits per example
  for (const std::string& row : {std::string("direct "), std::string("branch "), output_shape}) {
    EXPECT_NE(summary.output.find(row), std::string::npos) << row << "\n" << summary.output;
  }
}

TEST_F(TorchScriptCli, ResumeIsExactAndTwoProcessesTrainTheSameWeights) {
  TempDir tmp;
  ASSERT_EQ(run_deepl(train_command(1) + "--out " + quoted(tmp / "resumed")).code, 0);
  const auto resumed =
      run_deepl(train_command(2) + "--out " + quoted(tmp / "resumed") + " --resume " + quoted(tmp / "resumed/checkpoints/last.pt"));
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_EQ(history_without_timings(run()), history_without_timings(tmp / "resumed"));
  EXPECT_EQ(max_abs_difference(run() / "checkpoints/last.pt", tmp / "resumed/checkpoints/last.pt"), 0.0);
  const auto pair = run_deepl(train_command(2) + "--nproc 2 --out " + quoted(tmp / "pair"));
  ASSERT_EQ(pair.code, 0) << pair.output;
  EXPECT_LE(max_abs_difference(run() / "checkpoints/last.pt", tmp / "pair/checkpoints/last.pt"), 1e-5);
}

TEST_F(TorchScriptCli, SweepTrialsAndResumeAutoKeepThePinnedModule) {
  TempDir tmp;
  const auto sweep = deepl::testing::run_grid_sweep(tmp.path(), read_file(*dir_ / "scripted.json"),
                                                    {{"train.epochs", 1}, {"threads", 1}}, {{"optimizer.lr", {0.0003, 0.001}}});
  ASSERT_EQ(sweep.code, 0) << sweep.output;
  const json best = read_json_file(tmp / "sweep/best.json");
  EXPECT_EQ(best.at("model").at("type"), "torchscript");
  EXPECT_EQ(best.at("model").at("sha256"), sha256_of_file(module()));

  // Killed in its second epoch (50 steps each), then the same command line carries on from epoch 1.
  const std::string args = fmt::format("--threads 1 --config {} --set train.epochs=2 --out {} --resume auto",
                                       quoted(*dir_ / "scripted.json"), quoted(tmp / "auto"));
  const auto killed = deepl::testing::run_command(std::string("DEEPL_KILL_AFTER_STEPS=60 ") + DEEPL_FAULTS_BIN + " train -q " + args);
  ASSERT_NE(killed.code, 0) << killed.output;
  const auto resumed = run_deepl("train " + args);
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("--resume auto: continuing from"), std::string::npos) << resumed.output;
  EXPECT_EQ(history_without_timings(run()), history_without_timings(tmp / "auto"));
}

TEST_F(TorchScriptCli, ExportGivesTheTrainedModuleBackAndOnnxIsRefusedByName) {
  const fs::path exported = *dir_ / "trained.pt", weights = *dir_ / "trained.pth";
  const auto ts = run_deepl("export --checkpoint " + quoted(best()) + " --format torchscript --out " + quoted(exported));
  ASSERT_EQ(ts.code, 0) << ts.output;
  ASSERT_EQ(run_deepl("export --checkpoint " + quoted(best()) + " --out " + quoted(weights)).code, 0);
  const auto state = io::read_state_dict(weights);
  torch::jit::Module loaded = torch::jit::load(exported.string());
  size_t compared = 0;
  for (const auto& p : loaded.named_parameters(true)) {
    EXPECT_TRUE(torch::equal(p.value, state.at(p.name))) << p.name;
    ++compared;
  }
  EXPECT_EQ(compared, 6u);
  EXPECT_FALSE(loaded.is_training()) << "exported for inference";

  const auto onnx = run_deepl("export --checkpoint " + quoted(best()) + " --format onnx --out " + quoted(*dir_ / "x.onnx"));
  EXPECT_EQ(onnx.code, 2) << onnx.output;
  EXPECT_NE(onnx.output.find("torch.onnx"), std::string::npos) << onnx.output;
  EXPECT_FALSE(fs::exists(*dir_ / "x.onnx"));
}

TEST_F(TorchScriptCli, AChangedModuleFileIsRefusedOnResumeAndEvaluation) {
  TempDir tmp;
  const fs::path moved = tmp / "two_branch.pt";
  fs::copy_file(module(), moved);
  json config = read_json_file(*dir_ / "scripted.json");
  config["model"]["path"] = moved.string();
  write_json_file(tmp / "moved.json", config);
  const std::string train = "train -q --threads 1 --config " + quoted(tmp / "moved.json") + " --set train.epochs=2 ";
  ASSERT_EQ(run_deepl(train + "--set train.epochs=1 --out " + quoted(tmp / "run")).code, 0);
  torch::manual_seed(7);
  deepl::testing::save_module(deepl::testing::two_branch_module(28 * 28, 10, 16), moved);  // another module, same path
  const auto resume = run_deepl(train + "--out " + quoted(tmp / "run") + " --resume " + quoted(tmp / "run/checkpoints/last.pt"));
  EXPECT_EQ(resume.code, 2) << resume.output;
  EXPECT_NE(resume.output.find("resuming would train another module"), std::string::npos) << resume.output;
  const auto eval = run_deepl("eval -q --checkpoint " + quoted(tmp / "run/checkpoints/best.pt"));
  EXPECT_EQ(eval.code, 2) << eval.output;
  EXPECT_NE(eval.output.find("has changed since this run began"), std::string::npos) << eval.output;
}

}  // namespace
