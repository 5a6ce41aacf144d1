// End-to-end tests of the deepl binary on a tiny synthetic IDX data set.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "../test_util.h"
#include "cli_util.h"
#include "deepl/core/cpu.h"
#include "deepl/core/device.h"
#include "deepl/core/files.h"
#include "deepl/core/runtime.h"
#include "deepl/core/json_util.h"
#include "deepl/train/checkpoint.h"
#include "deepl/core/precision.h"

using namespace deepl;
using deepl::testing::TempDir;
using nlohmann::json;

namespace {

deepl::testing::CommandResult run(const std::string& args) {
  return deepl::testing::run_command(std::string(DEEPL_BIN) + " " + args);
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    deepl::testing::write_synthetic_dataset(dir_.path(), "mnist", 600, 200);
    write_config("tiny", 2);
  }
  std::filesystem::path write_config(const std::string& name, int epochs) {
    const json cfg = {{"name", name},
                      {"seed", 3},
                      {"threads", 1},
                      {"data", {{"dataset", "mnist"}, {"root", dir_.path().string()}, {"val_fraction", 0.2},
                                {"batch_size", 32}, {"eval_batch_size", 64}}},
                      {"model", {{"type", "mlp"}, {"hidden", {32}}, {"dropout", 0.1}}},
                      {"optimizer", {{"type", "adam"}, {"lr", 0.003}}},
                      {"scheduler", {{"type", "step"}, {"step_size", 1}, {"gamma", 0.5}}},
                      {"train", {{"epochs", epochs}}},
                      {"output", {{"dir", (dir_ / "runs").string()}}}};
    const auto path = dir_ / (name + ".json");
    write_json_file(path, cfg);
    return path;
  }
  TempDir dir_;
};

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST_F(Cli, TrainEvalPredictEndToEnd) {
  const auto train = run("train --quiet --config " + (dir_ / "tiny.json").string());
  ASSERT_EQ(train.code, 0) << train.output;
  const auto run_dir = dir_ / "runs/tiny";
  for (const char* f : {"config.json", "manifest.json", "metrics.jsonl", "metrics.csv", "metrics.json",
                        "confusion_matrix.csv", "confusion_matrix.png", "learning_curves.png", "misclassified.png",
                        "checkpoints/last.pt", "checkpoints/best.pt"}) {
    EXPECT_TRUE(std::filesystem::exists(run_dir / f)) << f;
  }
  const json manifest = read_json_file(run_dir / "manifest.json");
  EXPECT_EQ(manifest["status"], "finished");
  EXPECT_EQ(manifest["seed"], 3);
  EXPECT_EQ(manifest["threads"], 1);
  EXPECT_FALSE(manifest["libtorch_version"].get<std::string>().empty());
  // The tiny config leaves train.precision at "auto": the manifest says what this CPU got and why.
  EXPECT_EQ(manifest["precision"], deepl::resolve_precision("auto", std::nullopt, cpu_info()).explain());
  EXPECT_EQ(manifest["cpu"]["model"], cpu_info().model);
  EXPECT_EQ(manifest["cpu"]["isa_level"], cpu_info().isa_level());
  EXPECT_EQ(manifest["cpu"]["native_bf16"], cpu_info().native_bf16());
  EXPECT_EQ(manifest["device"], fmt::format("{} ({})", resolve_device("auto").device.str(), resolve_device("auto").reason));
  EXPECT_EQ(count_lines(read_file(run_dir / "metrics.jsonl")), 2);
  EXPECT_EQ(count_lines(read_file(run_dir / "metrics.csv")), 3);
  const json test = read_json_file(run_dir / "metrics.json");
  EXPECT_EQ(test["examples"], 200);
  EXPECT_GT(test["accuracy"].get<double>(), 0.6) << "the synthetic classes are easy to separate";
  EXPECT_EQ(count_lines(read_file(run_dir / "confusion_matrix.csv")), 11);

  // eval rebuilds the model from the checkpoint alone and finds the same numbers.
  const auto eval = run("eval --quiet --checkpoint " + (run_dir / "checkpoints/best.pt").string() + " --out " +
                        (dir_ / "eval").string());
  ASSERT_EQ(eval.code, 0) << eval.output;
  const json again = read_json_file(dir_ / "eval/metrics.json");
  EXPECT_EQ(again["accuracy"], test["accuracy"]);
  EXPECT_EQ(again["confusion_matrix"], test["confusion_matrix"]);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "eval/confusion_matrix.png"));
  EXPECT_EQ(again["tta"], json::array()) << "the run's own eval.tta";
  // --tta evaluates the same weights with other test-time views, and the report says which.
  const std::string best = (run_dir / "checkpoints/best.pt").string();
  const auto mirrored = run("eval --quiet --tta hflip --checkpoint " + best + " --out " + (dir_ / "eval-hflip").string());
  ASSERT_EQ(mirrored.code, 0) << mirrored.output;
  const json with_flips = read_json_file(dir_ / "eval-hflip/metrics.json");
  EXPECT_EQ(with_flips["tta"], json::array({"hflip"}));
  EXPECT_NE(with_flips["loss"], again["loss"]) << "the mirror images count";
  const auto plain = run("eval --quiet --tta none --checkpoint " + best + " --out " + (dir_ / "eval-none").string());
  ASSERT_EQ(plain.code, 0) << plain.output;
  // Against the same evaluation path: the training process's own test loss may differ in the last bits.
  EXPECT_EQ(read_json_file(dir_ / "eval-none/metrics.json")["loss"], again["loss"]);
  const auto unknown_view = run("eval --quiet --tta hflip,vflip --checkpoint " + best);
  EXPECT_EQ(unknown_view.code, 2);
  EXPECT_NE(unknown_view.output.find("--tta: unknown augmentation \"vflip\""), std::string::npos) << unknown_view.output;
  const auto val = run("eval --quiet --split val --checkpoint " + (run_dir / "checkpoints/best.pt").string());
  ASSERT_EQ(val.code, 0) << val.output;
  EXPECT_EQ(read_json_file(run_dir / "eval-val/metrics.json")["examples"], 120);

  // predict: one JSON line per image, top-3, agreeing with the evaluation's accuracy.
  const auto predict = run("predict --quiet --checkpoint " + (run_dir / "checkpoints/best.pt").string() + " --input " +
                           (dir_ / "mnist/t10k-images-idx3-ubyte").string() + " --top-k 3");
  ASSERT_EQ(predict.code, 0) << predict.output;
  const torch::Tensor labels = data::read_idx(dir_ / "mnist/t10k-labels-idx1-ubyte").to(torch::kInt64);
  std::istringstream lines(predict.output);
  std::string line;
  int64_t n = 0, correct = 0;
  while (std::getline(lines, line)) {
    const json j = json::parse(line);
    ASSERT_EQ(j["top"].size(), 3u);
    EXPECT_GE(j["top"][0]["probability"].get<double>(), j["top"][1]["probability"].get<double>());
    correct += j["top"][0]["class"].get<int64_t>() == labels[j["index"].get<int64_t>()].item<int64_t>();
    ++n;
  }
  EXPECT_EQ(n, 200);
  EXPECT_NEAR(static_cast<double>(correct) / 200.0, test["accuracy"].get<double>(), 1e-9);
}

TEST_F(Cli, ResumeReachesTheSameWeightsAsAnUninterruptedRun) {
  ASSERT_EQ(run("train --quiet --config " + write_config("full", 2).string()).code, 0);
  ASSERT_EQ(run("train --quiet --config " + write_config("part", 1).string()).code, 0);
  const auto resumed = run("train --quiet --config " + (dir_ / "part.json").string() +
                           " --set train.epochs=2 --resume " + (dir_ / "runs/part/checkpoints/last.pt").string());
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  const auto a = train::read_checkpoint(dir_ / "runs/full/checkpoints/last.pt");
  const auto b = train::read_checkpoint(dir_ / "runs/part/checkpoints/last.pt");
  EXPECT_EQ(b.meta["epoch"], 2);
  ASSERT_EQ(a.model.size(), b.model.size());
  for (const auto& [name, t] : a.model) EXPECT_TRUE(torch::equal(t, b.model.at(name))) << name;
  // The resumed run's history holds both epochs, with the same numbers (timings aside).
  auto history = [&](const std::string& run) { return deepl::testing::history_without_timings(dir_ / "runs" / run); };
  EXPECT_EQ(history("full"), history("part"));
  EXPECT_EQ(history("full").size(), 2u);
  const json ma = read_json_file(dir_ / "runs/full/metrics.json"), mb = read_json_file(dir_ / "runs/part/metrics.json");
  EXPECT_EQ(ma["accuracy"], mb["accuracy"]);
}

// Progressive resizing: the first epoch trains at 14x14, the second at the images' 28x28; the
// stage follows the epoch, so a run resumed between the two reaches the same weights. 16 channels
// or more: Debian 13's oneDNN 3.6 gets 4- and 8-channel convolutions wrong on some AVX-512 CPUs, and
// can corrupt memory doing so (train/onednn_check.h).
TEST_F(Cli, ProgressiveResizingTrainsAResNetAndResumesExactly) {
  const std::string resnet = R"( --set 'model={"type": "resnet", "stem_channels": 16, "blocks": [1, 1], )"
                             R"("widths": [16, 32], "strides": [1, 2]}' --set train.precision=fp32)"
                             R"( --set 'data.progressive_sizes=[14, 28]')";
  const auto full = run("train --quiet --config " + write_config("full", 2).string() + resnet);
  ASSERT_EQ(full.code, 0) << full.output;
  const auto paused = run("train --quiet --config " + write_config("part", 2).string() + resnet + " --pause-after-epoch 1");
  ASSERT_EQ(paused.code, 0) << paused.output;
  const auto resumed = run("train --quiet --config " + (dir_ / "part.json").string() + resnet + " --resume " +
                           (dir_ / "runs/part/checkpoints/last.pt").string());
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  const auto a = train::read_checkpoint(dir_ / "runs/full/checkpoints/last.pt");
  const auto b = train::read_checkpoint(dir_ / "runs/part/checkpoints/last.pt");
  ASSERT_EQ(b.meta["epoch"], 2);
  for (const auto& [name, t] : a.model) EXPECT_TRUE(torch::equal(t, b.model.at(name))) << name;
  const std::string full_size = resnet.substr(0, resnet.find(" --set 'data.progressive_sizes"));
  const auto plain_run = run("train --quiet --config " + write_config("plain", 2).string() + full_size);
  ASSERT_EQ(plain_run.code, 0) << plain_run.output;
  const auto plain = train::read_checkpoint(dir_ / "runs/plain/checkpoints/last.pt");
  EXPECT_FALSE(torch::equal(a.model.at("conv1.weight"), plain.model.at("conv1.weight"))) << "the 14x14 epoch counts";

  const auto mlp = run("train --quiet --config " + (dir_ / "tiny.json").string() + " --set 'data.progressive_sizes=[14]'");
  EXPECT_EQ(mlp.code, 2);
  EXPECT_NE(mlp.output.find("/data/progressive_sizes: model type \"mlp\" cannot take 14x14 images"), std::string::npos)
      << mlp.output;
}

// ONEDNN_MAX_CPU_ISA=AVX2 on a CPU with AVX-512 bf16: LibTorch still offers bf16, oneDNN has no kernel
// for it and throws its own error. Evaluation's oneDNN probe takes that as "not available". The two
// evaluations may round differently (eager or oneDNN), so a prediction or two may differ.
TEST_F(Cli, EvaluationRunsWithOneDnnHeldToAvx2) {
  const auto train = run("train --quiet --config " + (dir_ / "tiny.json").string() +
                         R"( --set 'model={"type": "resnet", "stem_channels": 16, "blocks": [1], "widths": [16], )"
                         R"("strides": [1]}' --set train.epochs=1 --set train.precision=fp32)");
  ASSERT_EQ(train.code, 0) << train.output;
  const auto eval = deepl::testing::run_command("ONEDNN_MAX_CPU_ISA=AVX2 " + std::string(DEEPL_BIN) +
                                                " eval --quiet --checkpoint " +
                                                (dir_ / "runs/tiny/checkpoints/best.pt").string() + " --out " +
                                                (dir_ / "eval").string());
  ASSERT_EQ(eval.code, 0) << eval.output;
  EXPECT_NEAR(read_json_file(dir_ / "eval/metrics.json")["accuracy"].get<double>(),
              read_json_file(dir_ / "runs/tiny/metrics.json")["accuracy"].get<double>(), 0.011);
}

TEST_F(Cli, ExitCodesAndOneLineErrors) {
  write_file_atomic(dir_ / "bad.json", R"({"name": "x", "model": {"type": "mlp"}, "optimizer": {"lrr": 1}})");
  const auto config_error = run("train --config " + (dir_ / "bad.json").string());
  EXPECT_EQ(config_error.code, 2);
  EXPECT_NE(config_error.output.find("/optimizer/lrr: unknown key; did you mean \"lr\"?"), std::string::npos)
      << config_error.output;

  const auto missing_data = run("train --config " + write_config("nodata", 1).string() + " --set data.root=/nonexistent");
  EXPECT_EQ(missing_data.code, 3);
  EXPECT_NE(missing_data.output.find("deepl data fetch mnist"), std::string::npos) << missing_data.output;

  write_file_atomic(dir_ / "junk.pt", "junk");
  const auto bad_ckpt = run("eval --checkpoint " + (dir_ / "junk.pt").string());
  EXPECT_EQ(bad_ckpt.code, 3);
  EXPECT_NE(bad_ckpt.output.find("junk.pt: not a"), std::string::npos) << bad_ckpt.output;

  EXPECT_EQ(run("train --no-such-flag").code, 2);
  const auto help = run("--help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.output.find("Exit codes"), std::string::npos);
}

TEST_F(Cli, HelpListsEverySubcommandInOneLine) {
  const auto help = run("--help");
  ASSERT_EQ(help.code, 0) << help.output;
  std::istringstream lines(help.output);
  std::map<std::string, int> listed;
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string first;
    if (line.rfind("  ", 0) == 0 && words >> first) ++listed[first];
  }
  for (const char* name : {"train", "eval", "predict", "export", "runs", "sweep", "reproduce", "config", "model", "data",
                           "info"}) {
    EXPECT_EQ(listed[name], 1) << name << " is not listed once in\n" << help.output;
  }
}

TEST_F(Cli, ConfigShowModelSummaryAndDataViews) {
  const auto show = run("config show --config " + (dir_ / "tiny.json").string() + " --set optimizer.lr=0.5");
  ASSERT_EQ(show.code, 0) << show.output;
  const json resolved = json::parse(show.output);
  EXPECT_EQ(resolved["optimizer"]["lr"], 0.5);
  EXPECT_EQ(resolved["train"]["early_stopping"]["patience"], 0);

  const auto summary = run("model summary --config " + (dir_ / "tiny.json").string());
  ASSERT_EQ(summary.code, 0) << summary.output;
  EXPECT_NE(summary.output.find("total: 25450 parameters"), std::string::npos) << summary.output;

  const auto grid = run("data show --dataset mnist --n 16 --root " + dir_.path().string() + " --out " +
                        (dir_ / "grid.png").string());
  ASSERT_EQ(grid.code, 0) << grid.output;
  EXPECT_EQ(read_file(dir_ / "grid.png").substr(1, 3), "PNG");
  const auto stats = run("data stats --dataset mnist --root " + dir_.path().string());
  ASSERT_EQ(stats.code, 0) << stats.output;
  EXPECT_NE(stats.output.find("mnist train: 600 images of 1x28x28"), std::string::npos) << stats.output;
}

TEST(CliInfo, NamesLibTorchCpuAndWhatAutoPrecisionPicks) {
  const auto text = run("info");
  ASSERT_EQ(text.code, 0) << text.output;
  EXPECT_NE(text.output.find("LibTorch " + libtorch_version()), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("CPU: " + cpu_info().model), std::string::npos) << text.output;
  EXPECT_NE(text.output.find(std::string("native bf16: ") + (cpu_info().native_bf16() ? "yes" : "no")), std::string::npos);
  EXPECT_NE(text.output.find("BLAS: "), std::string::npos);
  EXPECT_NE(text.output.find("LibTorch build configuration:"), std::string::npos);

  const auto as_json = run("info --json");
  ASSERT_EQ(as_json.code, 0) << as_json.output;
  const json info = json::parse(as_json.output);
  EXPECT_EQ(info["libtorch_version"], libtorch_version());
  EXPECT_EQ(info["cpu"]["isa_level"], cpu_info().isa_level());
  EXPECT_EQ(info["auto_precision"], cpu_info().native_bf16() ? "bf16" : "fp32");
  EXPECT_FALSE(info["cuda"]["available"].is_null());
  EXPECT_TRUE(info["blas"].contains("library"));
}

TEST_F(Cli, ShippedExperimentsByNameFromAnyFolder) {
  const std::string in_empty_folder = "cd " + dir_.path().string() + " && ";
  for (const char* name : {"mlp_mnist", "fashion_cnn.json"}) {
    const auto shown = deepl::testing::run_command(in_empty_folder + DEEPL_BIN + " config show --config " + name);
    ASSERT_EQ(shown.code, 0) << shown.output;
    EXPECT_NE(shown.output.find(R"("name": ")" + std::filesystem::path(name).stem().string() + "\""), std::string::npos)
        << shown.output;
  }
  const auto unknown = deepl::testing::run_command(in_empty_folder + DEEPL_BIN + " train --config mlp_mnsit");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.output.find("--config mlp_mnsit: no such file or shipped experiment (shipped experiments: cnn_mnist, "
                                "fashion_best, fashion_cnn"),
            std::string::npos)
      << unknown.output;
}

TEST_F(Cli, DataFetchVerifiesIntoTheDataFolder) {
  const auto source = std::filesystem::path(DEEPL_SOURCE_DIR) / "data/mnist";
  if (!std::filesystem::exists(source / "t10k-labels-idx1-ubyte")) GTEST_SKIP() << "MNIST not fetched (bash data/fetch)";
  // No DEEPL_DATA: the default outside a clone is $XDG_DATA_HOME/deepl.
  const std::string env = "cd " + dir_.path().string() + " && env -u DEEPL_DATA XDG_DATA_HOME=" + (dir_ / "xdg").string() +
                          " DEEPL_FETCH_SOURCE_MNIST=" + source.string() + " ";
  const auto fetched = deepl::testing::run_command(env + DEEPL_BIN + " data fetch mnist --root " + (dir_ / "d").string());
  ASSERT_EQ(fetched.code, 0) << fetched.output;
  EXPECT_NE(fetched.output.find("data folder: " + (dir_ / "d").string()), std::string::npos) << fetched.output;
  EXPECT_TRUE(std::filesystem::exists(dir_ / "d/mnist/train-images-idx3-ubyte"));

  write_file_atomic(dir_ / "corrupt/train-images-idx3-ubyte", "not MNIST");
  const auto corrupt = deepl::testing::run_command(env + "DEEPL_FETCH_SOURCE_MNIST=" + (dir_ / "corrupt").string() + " " +
                                                   DEEPL_BIN + " data fetch mnist --root " + (dir_ / "e").string());
  EXPECT_EQ(corrupt.code, 3) << corrupt.output;
  EXPECT_NE(corrupt.output.find("fetching failed"), std::string::npos) << corrupt.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "e/mnist"));
  EXPECT_EQ(run("data fetch cifar").code, 2);
}

TEST_F(Cli, ReproduceHoldsExperimentsToTheirTimeBudgetsAndSkipsWhatNoLongerFits) {
  const auto experiments = dir_ / "experiments";
  std::filesystem::create_directories(experiments);
  const auto add_experiment = [&](const std::string& name, const json& minutes, const json& model, int epochs = 4) {
    json cfg = read_json_file(write_config(name, epochs));
    cfg["expect"] = {{"test_accuracy", 0.0}};
    if (!minutes.is_null()) cfg["expect"]["minutes"] = {{"fp32", minutes}, {"bf16", minutes}};
    if (!model.is_null()) cfg["model"] = model;
    write_json_file(experiments / (name + ".json"), cfg);
  };
  add_experiment("b_roomy", 1000, nullptr);
  // Twenty-four epochs of a 32-channel CNN on 480 images take well over the 0.6 s budget on any CPU (four took
  // 0.57 s and sixteen 1.6 s on a Turin-like EPYC with native bf16).
  add_experiment("c_tight", 0.01, json::parse(R"({"type": "cnn", "blocks": [{"convs": [{"out_channels": 32,
      "padding": 1}, {"out_channels": 32, "padding": 1}], "pool": 2}]})"), 24);
  add_experiment("z_unbudgeted", nullptr, nullptr);
  const std::string precision = cpu_info().native_bf16() ? "bf16" : "fp32";

  const auto reproduce = [&](const std::string& args) {
    return run("reproduce --quiet --experiments " + experiments.string() + " --out " + (dir_ / "out").string() + " " + args);
  };
  const auto all = reproduce("--budget-minutes 30");
  EXPECT_EQ(all.code, 1) << all.output;
  EXPECT_NE(all.output.find("b_roomy: skipped: its budget here is 1000 min (" + precision + ") and "), std::string::npos)
      << all.output;
  EXPECT_NE(all.output.find("of the reproduction's budget are left"), std::string::npos) << all.output;
  EXPECT_NE(all.output.find("c_tight: over its time budget: "), std::string::npos) << all.output;
  const json summary = read_json_file(dir_ / "out/summary.json");
  std::vector<std::string> order;
  for (const auto& row : summary["results"]) order.push_back(row["experiment"]);
  EXPECT_EQ(order, (std::vector<std::string>{"z_unbudgeted", "c_tight", "b_roomy"}))
      << "unbudgeted experiments run first, then the budgeted ones, shortest budget first";
  EXPECT_EQ(summary["results"][0]["status"], "ok");
  EXPECT_TRUE(summary["results"][0]["budget_minutes"].is_null());
  EXPECT_EQ(summary["results"][1]["budget_minutes"], 0.01);
  EXPECT_EQ(summary["results"][1]["precision"], precision);
  EXPECT_GT(summary["results"][1]["seconds"].get<double>(), 0.6);
  EXPECT_EQ(summary["cpu"], cpu_info().summary());

  // The budget also comes from the environment (CI sets it from what is left of its own).
  const auto skipped = deepl::testing::run_command("DEEPL_REPRODUCE_BUDGET_MINUTES=5 " + std::string(DEEPL_BIN) +
                                                   " reproduce --quiet --only b_roomy --experiments " +
                                                   experiments.string() + " --out " + (dir_ / "out2").string());
  EXPECT_EQ(skipped.code, 0) << skipped.output;
  EXPECT_NE(skipped.output.find("| 1000 min (" + precision + ") | skipped: its budget here is 1000 min"), std::string::npos)
      << skipped.output;
  const auto unlimited = reproduce("--only b_roomy");
  EXPECT_EQ(unlimited.code, 0) << unlimited.output;
  EXPECT_NE(unlimited.output.find("| 1000 min (" + precision + ") | ok |"), std::string::npos) << unlimited.output;
}
