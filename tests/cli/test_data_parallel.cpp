// Data-parallel training end to end: ranks on 127.0.0.1 (launched by `--nproc`, by torchrun, or by
// hand through the environment) must reach the single-process weights, and a rank that dies or
// hangs must stop the others with a clear error.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "../test_util.h"
#include "cli_util.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/train/checkpoint.h"

using namespace deepl;
using deepl::testing::history_without_timings;
using deepl::testing::spawn_deepl;
using deepl::testing::TempDir;
using deepl::testing::children_of;
using deepl::testing::free_port;
using deepl::testing::max_abs_difference;
using deepl::testing::wait_exit;
using deepl::testing::wait_for_file;
using nlohmann::json;
namespace fs = std::filesystem;
using std::chrono::seconds;

namespace {

deepl::testing::CommandResult run(const std::string& args) {
  return deepl::testing::run_command(std::string(DEEPL_BIN) + " " + args);
}

class DataParallel : public ::testing::Test {
 protected:
  void SetUp() override { deepl::testing::write_synthetic_dataset(dir_.path(), "mnist", 600, 200); }

  fs::path write_config(const std::string& name, int epochs, double timeout_seconds = 60, int batch_size = 64) {
    return deepl::testing::write_parallel_config(dir_.path(), name, epochs, timeout_seconds, batch_size);
  }
  fs::path run_dir(const std::string& name) const { return dir_ / "runs" / name; }
  std::map<std::string, std::string> rank_env(int rank, int port) const {
    return {{"RANK", std::to_string(rank)}, {"WORLD_SIZE", "2"},        {"LOCAL_RANK", std::to_string(rank)},
            {"LOCAL_WORLD_SIZE", "2"},      {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", std::to_string(port)}};
  }

  TempDir dir_;
};

}  // namespace

TEST_F(DataParallel, TwoRanksReachTheSingleProcessWeights) {
  const auto config = write_config("dp", 2).string();
  const auto single = run("train --quiet --config " + config + " --out " + (dir_ / "single").string());
  ASSERT_EQ(single.code, 0) << single.output;
  const auto pair = run("train --quiet --config " + config + " --nproc 2 --out " + (dir_ / "pair").string());
  ASSERT_EQ(pair.code, 0) << pair.output;

  const double difference = max_abs_difference(dir_ / "single/checkpoints/last.pt", dir_ / "pair/checkpoints/last.pt");
  EXPECT_LE(difference, 1e-5);
  std::printf("max abs weight difference, 1 process vs 2 ranks after 16 steps: %.3g\n", difference);
  const auto a = history_without_timings(dir_ / "single"), b = history_without_timings(dir_ / "pair");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t e = 0; e < a.size(); ++e) {
    EXPECT_EQ(a[e]["val_accuracy"], b[e]["val_accuracy"]) << "epoch " << e + 1;
    EXPECT_EQ(a[e]["train_accuracy"], b[e]["train_accuracy"]) << "epoch " << e + 1;
    EXPECT_NEAR(a[e]["val_loss"].get<double>(), b[e]["val_loss"].get<double>(), 1e-5);
    EXPECT_NEAR(a[e]["train_loss"].get<double>(), b[e]["train_loss"].get<double>(), 1e-5);
  }
  const json ta = read_json_file(dir_ / "single/metrics.json"), tb = read_json_file(dir_ / "pair/metrics.json");
  EXPECT_EQ(ta["accuracy"], tb["accuracy"]);
  EXPECT_EQ(ta["confusion_matrix"], tb["confusion_matrix"]);

  const json manifest = read_json_file(dir_ / "pair/manifest.json");
  EXPECT_EQ(manifest["world_size"], 2);
  EXPECT_EQ(manifest["threads"], 1);
  const int64_t parameter_bytes = (8 * 1 * 9 + 8 + 10 * 8 * 13 * 13 + 10) * 4;
  EXPECT_EQ(manifest["communication"]["bytes_per_step"], parameter_bytes + 8) << "gradients and the two votes";
  EXPECT_EQ(manifest["communication"]["gradient_allreduces"], 16) << "8 global batches per epoch, tail included";
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "pair")) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << "a rank left a temp file: " << entry.path();
  }
}

TEST_F(DataParallel, ResumingWithAnotherWorldSizeContinuesTheSameRun) {
  const auto config = write_config("dp", 2).string();
  ASSERT_EQ(run("train --quiet --config " + config + " --nproc 2 --out " + (dir_ / "pair").string()).code, 0);
  const auto first = run("train --quiet --config " + config + " --set train.epochs=1 --out " + (dir_ / "mixed").string());
  ASSERT_EQ(first.code, 0) << first.output;
  const auto resumed = run("train --quiet --config " + config + " --nproc 2 --out " + (dir_ / "mixed").string() +
                           " --resume " + (dir_ / "mixed/checkpoints/last.pt").string());
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_EQ(history_without_timings(dir_ / "mixed").size(), 2u);
  EXPECT_LE(max_abs_difference(dir_ / "pair/checkpoints/last.pt", dir_ / "mixed/checkpoints/last.pt"), 1e-5);
}

TEST_F(DataParallel, TorchrunLaunchesTheSameJob) {
  if (!fs::exists("/usr/bin/torchrun")) GTEST_SKIP() << "Debian's torchrun (python3-torch) is not installed";
  const auto config = write_config("dp", 1).string();
  ASSERT_EQ(run("train --quiet --config " + config + " --nproc 2 --out " + (dir_ / "nproc").string()).code, 0);
  // Debian's torchrun 1.13 spells the flag --no_python and needs -r/-t to start.
  const auto launched = deepl::testing::run_command(fmt::format(
      "/usr/bin/torchrun --nnodes 1 --nproc_per_node 2 --master_port {} -r 9:0 -t 9:0 --no_python {} train --quiet "
      "--config {} --out {}",
      free_port(), DEEPL_BIN, config, (dir_ / "torchrun").string()));
  if (launched.code != 0 && launched.output.find("PyTorch was build without libuv support") != std::string::npos) {
    GTEST_SKIP() << deepl::testing::kTorchrunWithoutLibuv;
  }
  ASSERT_EQ(launched.code, 0) << launched.output;
  EXPECT_EQ(read_json_file(dir_ / "torchrun/manifest.json")["world_size"], 2);
  EXPECT_EQ(max_abs_difference(dir_ / "nproc/checkpoints/last.pt", dir_ / "torchrun/checkpoints/last.pt"), 0.0);
}

TEST_F(DataParallel, ADeadRankStopsTheOtherWithAClearError) {
  const auto config = write_config("long", 100000).string();
  const int port = free_port();
  const pid_t rank0 = spawn_deepl({"train", "--config", config}, rank_env(0, port), dir_ / "rank0.log");
  const pid_t rank1 = spawn_deepl({"train", "--config", config}, rank_env(1, port), dir_ / "rank1.log");
  ASSERT_TRUE(wait_for_file(run_dir("long") / "metrics.jsonl", seconds(60))) << read_file(dir_ / "rank0.log");
  ::kill(rank1, SIGKILL);
  const auto start = std::chrono::steady_clock::now();
  const auto code = wait_exit(rank0, seconds(50));
  if (!code) ::kill(rank0, SIGKILL);
  wait_exit(rank1, seconds(5));
  ASSERT_TRUE(code.has_value()) << "rank 0 kept running after rank 1 died";
  EXPECT_EQ(*code, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(50));
  const std::string log = read_file(dir_ / "rank0.log");
  EXPECT_NE(log.find("rank 0: "), std::string::npos) << log;
  EXPECT_NE(log.find("failed"), std::string::npos) << log;
}

TEST_F(DataParallel, ASilentRankTimesOutTheOther) {
  const auto config = write_config("long", 100000, 3).string();
  const int port = free_port();
  const pid_t rank0 = spawn_deepl({"train", "--config", config}, rank_env(0, port), dir_ / "rank0.log");
  const pid_t rank1 = spawn_deepl({"train", "--config", config}, rank_env(1, port), dir_ / "rank1.log");
  ASSERT_TRUE(wait_for_file(run_dir("long") / "metrics.jsonl", seconds(60))) << read_file(dir_ / "rank0.log");
  ::kill(rank1, SIGSTOP);
  const auto code = wait_exit(rank0, seconds(40));
  ::kill(rank1, SIGKILL);
  if (!code) ::kill(rank0, SIGKILL);
  wait_exit(rank1, seconds(5));
  ASSERT_TRUE(code.has_value()) << "rank 0 hung with a stopped peer";
  EXPECT_EQ(*code, 1);
  const std::string log = read_file(dir_ / "rank0.log");
  EXPECT_NE(log.find("did not answer within 3 s"), std::string::npos) << log;
}

TEST_F(DataParallel, LauncherFailsAsAWholeAndTheRunResumes) {
  const auto config = write_config("long", 100000).string();
  const pid_t launcher = spawn_deepl({"train", "--config", config, "--nproc", "2"}, {}, dir_ / "launcher.log");
  ASSERT_TRUE(wait_for_file(run_dir("long") / "checkpoints/last.pt", seconds(60))) << read_file(dir_ / "launcher.log");
  const auto ranks = children_of(launcher);
  ASSERT_EQ(ranks.size(), 2u);
  ::kill(ranks[1], SIGKILL);
  const auto code = wait_exit(launcher, seconds(40));
  if (!code) ::kill(launcher, SIGKILL);
  ASSERT_TRUE(code.has_value()) << "the launcher kept running after a rank died";
  EXPECT_EQ(*code, 128 + SIGKILL);
  for (pid_t r : ranks) EXPECT_NE(::kill(r, 0), 0) << "rank " << r << " outlived its launcher";
  EXPECT_NE(read_file(dir_ / "launcher.log").find("rank 1 exited with status 137"), std::string::npos);

  const auto done = train::read_checkpoint(run_dir("long") / "checkpoints/last.pt").meta["epoch"].get<int64_t>();
  const auto resumed = run(fmt::format("train --quiet --config {} --nproc 2 --set train.epochs={} --resume {}", config,
                                       done + 1, (run_dir("long") / "checkpoints/last.pt").string()));
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_EQ(static_cast<int64_t>(history_without_timings(run_dir("long")).size()), done + 1);
}

TEST_F(DataParallel, SigintStopsEveryRankAtTheSameStepAndTheRunResumesExactly) {
  // Batches of 8: 60 steps per epoch, so the signal lands inside an epoch.
  const auto config = write_config("stop", 12, 60, 8).string();
  ASSERT_EQ(run("train --quiet --config " + config + " --nproc 2 --out " + (dir_ / "whole").string()).code, 0);
  const fs::path log = dir_ / "stopped.log";
  const pid_t launcher =
      spawn_deepl({"train", "--config", config, "--nproc", "2", "--out", (dir_ / "stopped").string()}, {}, log);
  ASSERT_TRUE(wait_for_file(dir_ / "stopped/metrics.jsonl", seconds(60))) << read_file(log);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  ::kill(launcher, SIGINT);
  const auto code = wait_exit(launcher, seconds(60));
  ASSERT_TRUE(code.has_value()) << read_file(log);
  EXPECT_EQ(*code, 130) << read_file(log);
  EXPECT_EQ(read_json_file(dir_ / "stopped/manifest.json")["status"], "interrupted");
  EXPECT_NE(read_file(log).find("Resume with: deepl train"), std::string::npos) << read_file(log);
  const json position = train::read_checkpoint(dir_ / "stopped/checkpoints/last.pt").meta["trainer"]["epoch_position"];
  std::printf("stopped %s\n", position.is_null() ? "between epochs" : position.dump().c_str());

  const auto resumed = run("train --quiet --config " + config + " --nproc 2 --out " + (dir_ / "stopped").string() +
                           " --resume " + (dir_ / "stopped/checkpoints/last.pt").string());
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_EQ(history_without_timings(dir_ / "whole"), history_without_timings(dir_ / "stopped"));
  EXPECT_EQ(max_abs_difference(dir_ / "whole/checkpoints/last.pt", dir_ / "stopped/checkpoints/last.pt"), 0.0);
}
