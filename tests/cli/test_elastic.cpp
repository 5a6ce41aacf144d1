// Training that can be launched again with the same command line and carry on: --resume auto,
// mid-epoch checkpoints by steps, and restarts of a data-parallel group after a rank is killed
// (by deepl's --nproc launcher and by torchrun), ending with the weights of an uninterrupted run.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <optional>

#include "../test_util.h"
#include "cli_util.h"

using namespace deepl;
using namespace deepl::testing;
using nlohmann::json;
namespace fs = std::filesystem;
using std::chrono::seconds;

namespace {

class Elastic : public ::testing::Test {
 protected:
  void SetUp() override { write_synthetic_dataset(dir_.path(), "mnist", 600, 200); }

  // Batches of 8: 60 steps per epoch; last.pt also every `every_steps` steps, mid-epoch.
  std::string config(const std::string& name, int epochs, int every_steps) {
    return write_parallel_config(dir_.path(), name, epochs, 60, 8, {{"checkpoint", {{"every_steps", every_steps}}}})
        .string();
  }
  fs::path last(const std::string& run) const { return dir_ / run / "checkpoints/last.pt"; }


  TempDir dir_;
};

// Every file of a folder with its modification time and contents.
std::map<std::string, std::pair<int64_t, std::string>> folder_snapshot(const fs::path& dir) {
  std::map<std::string, std::pair<int64_t, std::string>> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    struct stat st {};
    ::stat(entry.path().c_str(), &st);
    files[entry.path().string()] = {st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, read_file(entry.path())};
  }
  return files;
}

pid_t deepl_rank_among(pid_t parent) {
  for (pid_t child : children_of(parent)) {
    std::error_code ec;
    if (fs::read_symlink(fmt::format("/proc/{}/exe", child), ec) == fs::path(DEEPL_BIN)) return child;
  }
  return -1;
}

}  // namespace

TEST_F(Elastic, ResumeAutoTrainsOnceThenSaysAlreadyFinishedAndRefusesAChangedConfig) {
  const std::string cfg = config("auto", 2, 0), out = (dir_ / "run").string();
  const auto first = run_deepl("train --config " + cfg + " --out " + out + " --resume auto");
  ASSERT_EQ(first.code, 0) << first.output;
  EXPECT_NE(first.output.find("--resume auto: no checkpoint in"), std::string::npos) << first.output;
  const auto before = folder_snapshot(out);

  const auto second = run_deepl("train --config " + cfg + " --out " + out + " --resume auto");
  ASSERT_EQ(second.code, 0) << second.output;
  EXPECT_NE(second.output.find("auto: already finished (test accuracy"), std::string::npos) << second.output;
  // Keys that do not change the result may differ; the config's own train.resume works too.
  const auto third = run_deepl("train --config " + cfg + " --out " + out +
                               " --threads 2 --set train.log_every=3 --set distributed.timeout_seconds=9 "
                               "--set train.resume=auto");
  ASSERT_EQ(third.code, 0) << third.output;
  EXPECT_NE(third.output.find("already finished"), std::string::npos) << third.output;
  EXPECT_EQ(folder_snapshot(out), before) << "a finished run folder was rewritten";

  const auto changed = run_deepl("train --config " + cfg + " --out " + out + " --resume auto --set optimizer.lr=0.1");
  EXPECT_EQ(changed.code, 2) << changed.output;
  EXPECT_NE(changed.output.find("optimizer.lr: 0.05 -> 0.1"), std::string::npos) << changed.output;
  EXPECT_EQ(folder_snapshot(out), before);

  // A folder an older deepl wrote: its config lacks keys added since, which count as their defaults.
  const std::filesystem::path older = dir_ / "older";
  std::filesystem::copy(out, older, std::filesystem::copy_options::recursive);
  std::filesystem::remove(older / "checkpoints/last.pt");
  nlohmann::json stored = read_json_file(older / "config.json");
  stored.erase("eval");
  stored["train"].erase("ema");
  write_json_file(older / "config.json", stored);
  const auto upgraded = run_deepl("train --config " + cfg + " --out " + older.string() + " --resume auto");
  EXPECT_EQ(upgraded.code, 0) << upgraded.output;
  EXPECT_NE(upgraded.output.find("already finished"), std::string::npos) << upgraded.output;
}

// The kill comes from the test-only program deepl-with-faults (DEEPL_KILL_AFTER_STEPS), not from the
// test: a fast CPU trains these 240 steps in a fifth of a second, too quick for a test that polls the
// checkpoint and then sends SIGKILL.
TEST_F(Elastic, StepCheckpointsLetASigkilledRunFinishWithTheSameWeights) {
  const std::string cfg = config("steps", 4, 7);
  const auto whole = run_deepl("train --config " + cfg + " --out " + (dir_ / "whole").string());
  ASSERT_EQ(whole.code, 0) << whole.output;
  EXPECT_NE(whole.output.find("checkpoints: "), std::string::npos) << "the cost of checkpoints is logged";

  // Step 100 is in epoch 2, two steps after the mid-epoch last.pt of step 98.
  const fs::path log = dir_ / "killed.log";
  const pid_t pid = spawn_program(DEEPL_FAULTS_BIN,
                                  {"train", "--config", cfg, "--out", (dir_ / "killed").string(), "--resume", "auto"},
                                  {{"DEEPL_KILL_AFTER_STEPS", "100"}}, log);
  ASSERT_EQ(wait_status(pid), 128 + SIGKILL) << read_file(log);
  EXPECT_NE(read_file(log).find("killing this process with SIGKILL after training step 100"), std::string::npos);
  EXPECT_EQ(epoch_position(last("killed"))["batches_done"], 38) << epoch_position(last("killed")).dump();

  const auto resumed = run_deepl("train --config " + cfg + " --out " + (dir_ / "killed").string() + " --resume auto");
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("--resume auto: continuing from"), std::string::npos) << resumed.output;
  EXPECT_EQ(history_without_timings(dir_ / "whole"), history_without_timings(dir_ / "killed"));
  EXPECT_EQ(max_abs_difference(last("whole"), last("killed")), 0.0);
}

TEST_F(Elastic, TheKillAfterStepsVariableMustBeAStepCount) {
  const std::string cfg = config("bad", 1, 0);
  const auto bad = run_command(std::string("DEEPL_KILL_AFTER_STEPS=soon ") + DEEPL_FAULTS_BIN +
                               " train --quiet --config " + cfg + " --out " + (dir_ / "bad").string());
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("DEEPL_KILL_AFTER_STEPS=\"soon\": expected an integer"), std::string::npos) << bad.output;
}

TEST_F(Elastic, LauncherRestartsTheGroupAfterAKilledRankAndEndsWithTheSameWeights) {
  const std::string cfg = config("restart", 4, 10);
  ASSERT_EQ(run_deepl("train --quiet --config " + cfg + " --nproc 2 --out " + (dir_ / "whole").string()).code, 0);
  const fs::path log = dir_ / "restarted.log";
  const pid_t launcher = spawn_deepl(
      {"train", "--config", cfg, "--nproc", "2", "--max-restarts", "2", "--out", (dir_ / "restarted").string()}, {},
      log);
  ASSERT_TRUE(wait_for_mid_epoch_checkpoint(dir_ / "restarted")) << read_file(log);
  const auto ranks = children_of(launcher);
  ASSERT_EQ(ranks.size(), 2u);
  ::kill(ranks[1], SIGKILL);
  const auto code = wait_exit(launcher, seconds(180));
  if (!code) ::kill(launcher, SIGKILL);
  ASSERT_EQ(code, 0) << read_file(log);
  const std::string text = read_file(log);
  EXPECT_NE(text.find("rank 1 exited with status 137"), std::string::npos) << text;
  EXPECT_NE(text.find("restarting all 2 ranks (1 of at most 2 restarts)"), std::string::npos) << text;
  EXPECT_NE(text.find("--resume auto: continuing from"), std::string::npos) << text;
  EXPECT_EQ(history_without_timings(dir_ / "whole"), history_without_timings(dir_ / "restarted"));
  EXPECT_EQ(max_abs_difference(last("whole"), last("restarted")), 0.0);
}

TEST_F(Elastic, ARunWhoseRankDiedContinuesOnAnotherWorldSize) {
  const std::string cfg = config("resize", 3, 10);
  ASSERT_EQ(run_deepl("train --quiet --config " + cfg + " --out " + (dir_ / "single").string()).code, 0);
  const fs::path log = dir_ / "pair.log";
  const pid_t launcher = spawn_deepl({"train", "--config", cfg, "--nproc", "2", "--out", (dir_ / "pair").string()}, {}, log);
  ASSERT_TRUE(wait_for_mid_epoch_checkpoint(dir_ / "pair")) << read_file(log);
  const auto ranks = children_of(launcher);
  ASSERT_EQ(ranks.size(), 2u);
  ::kill(ranks[0], SIGKILL);
  EXPECT_NE(wait_status(launcher), 0);

  const auto resumed = run_deepl("train --config " + cfg + " --out " + (dir_ / "pair").string() + " --resume auto");
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("--resume auto: continuing from"), std::string::npos) << resumed.output;
  EXPECT_LE(max_abs_difference(last("single"), last("pair")), 1e-5);
  const auto a = history_without_timings(dir_ / "single"), b = history_without_timings(dir_ / "pair");
  ASSERT_EQ(a.size(), b.size());
  for (size_t e = 0; e < a.size(); ++e) EXPECT_EQ(a[e]["val_accuracy"], b[e]["val_accuracy"]) << "epoch " << e + 1;
}

TEST_F(Elastic, TorchrunRestartsTheGroupAfterAKilledRankAndEndsWithTheSameWeights) {
  if (!fs::exists("/usr/bin/torchrun")) GTEST_SKIP() << "Debian's torchrun (python3-torch) is not installed";
  const std::string cfg = config("torchrun", 4, 10);
  ASSERT_EQ(run_deepl("train --quiet --config " + cfg + " --nproc 2 --out " + (dir_ / "whole").string()).code, 0);
  const fs::path log = dir_ / "torchrun.log";
  // Debian's torchrun 1.13 spells the flag --no_python and needs -r/-t to start.
  const pid_t torchrun = spawn_program(
      "/usr/bin/torchrun",
      {"--nnodes", "1", "--nproc_per_node", "2", "--master_port", std::to_string(free_port()), "--max_restarts", "3",
       "--monitor_interval", "1", "-r", "9:0", "-t", "9:0", "--no_python", DEEPL_BIN, "train", "--config", cfg,
       "--out", (dir_ / "torchrun").string(), "--resume", "auto"},
      {}, log);
  std::optional<int> ended;
  const bool started = wait_for_mid_epoch_checkpoint(dir_ / "torchrun", [&] {
    ended = wait_exit(torchrun, seconds(0));
    return ended || torchrun_lacks_libuv(log);
  });
  if (torchrun_lacks_libuv(log)) {
    if (!ended) ::kill(torchrun, SIGKILL), wait_status(torchrun);
    GTEST_SKIP() << kTorchrunWithoutLibuv;
  }
  ASSERT_TRUE(started && !ended) << read_file(log);
  const pid_t rank = deepl_rank_among(torchrun);
  ASSERT_GT(rank, 0) << "no deepl worker under torchrun";
  ::kill(rank, SIGKILL);
  const auto code = wait_exit(torchrun, seconds(180));
  if (!code) ::kill(torchrun, SIGKILL);
  ASSERT_EQ(code, 0) << read_file(log);
  EXPECT_NE(read_file(log).find("--resume auto: continuing from"), std::string::npos) << read_file(log);
  EXPECT_EQ(history_without_timings(dir_ / "whole"), history_without_timings(dir_ / "torchrun"));
  EXPECT_EQ(max_abs_difference(last("whole"), last("torchrun")), 0.0);
}
