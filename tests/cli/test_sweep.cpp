// `deepl sweep` end to end on a small synthetic data set: parallel trials and the summary files, a
// continued sweep that runs nothing again, a changed sweep file refused, a failing trial, a sweep
// killed with SIGKILL mid-trial and resumed, --trial K with --list and --summarize, and successive
// halving whose winner ends exactly as an uninterrupted run of its config.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <sstream>
#include <thread>

#include "../test_util.h"
#include "cli_util.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"

using namespace deepl;
using deepl::testing::history_without_timings;
using deepl::testing::run_deepl;
using deepl::testing::TempDir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> csv_lines(const fs::path& path) {
  std::istringstream in(read_file(path));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A CSV row's fields (quoted fields may hold commas).
std::vector<std::string> csv_cells(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (char c : line) {
    if (c == '"')
      quoted = !quoted;
    else if (c == ',' && !quoted)
      cells.emplace_back();
    else
      cells.back() += c;
  }
  return cells;
}

// Waits until `ready` holds (polling), or fails the test after `seconds`.
template <typename Ready>
bool wait_until(Ready ready, int seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "timed out after " << seconds << " s";
  return false;
}

std::string status_of(const fs::path& run_dir) {
  if (!fs::exists(run_dir / "manifest.json")) return "";
  try {
    return read_json_file(run_dir / "manifest.json").value("status", "");
  } catch (const Error&) {
    return "";  // being replaced right now
  }
}

class Sweep : public ::testing::Test {
 protected:
  // 1600 training examples in batches of 16 (100 steps per epoch), a small MLP with dropout.
  void SetUp() override {
    deepl::testing::write_synthetic_dataset(dir_.path(), "mnist", 2000, 300);
    write_json_file(
        dir_ / "base.json",
        {{"name", "base"},
         {"seed", 5},
         {"data",
          {{"root", dir_.path().string()}, {"val_fraction", 0.2}, {"batch_size", 16}, {"eval_batch_size", 300}}},
         {"model", {{"type", "mlp"}, {"hidden", {32}}, {"dropout", 0.1}}},
         {"optimizer", {{"type", "adam"}, {"lr", 0.001}}},
         {"train", {{"epochs", 2}}}});
  }
  fs::path write_sweep(const std::string& name, json sweep) {
    sweep["experiment"] = "base.json";
    const fs::path path = dir_ / (name + ".json");
    write_json_file(path, sweep);
    return path;
  }
  std::string sweep_args(const fs::path& sweep, const std::string& extra = "") {
    return fmt::format("sweep --config {} --out {} --threads 1 {}", sweep.string(), (dir_ / sweep.stem()).string(),
                       extra);
  }
  fs::path trial_dir(const std::string& sweep, const std::string& folder) { return dir_ / sweep / "trials" / folder; }
  // An uninterrupted `deepl train` of the base experiment with a trial's --set values.
  void train_reference(const std::string& out, const std::string& sets) {
    const auto r = run_deepl(fmt::format("train --quiet --threads 1 --config {} --out {} {}",
                                         (dir_ / "base.json").string(), (dir_ / out).string(), sets));
    ASSERT_EQ(r.code, 0) << r.output;
  }

  TempDir dir_;
};

}  // namespace

TEST_F(Sweep, ParallelGridRanksTrialsWritesSummariesAndContinuesWithoutRerunning) {
  const fs::path sweep = write_sweep(
      "grid", {{"space", {{"optimizer.lr", {0.0003, 0.003}}, {"model.hidden", {{16}, {48}}}}},
               {"set", {{"data.train_limit", 800}}},
               {"jobs", 2}});
  const auto r = run_deepl(sweep_args(sweep));
  ASSERT_EQ(r.code, 0) << r.output;
  // Two at a time: the second trial starts before the first one finishes.
  EXPECT_LT(r.output.find("trial 1 starts"), r.output.find("trial 0 finished")) << r.output;
  const auto lines = csv_lines(dir_ / "grid/summary.csv");
  ASSERT_EQ(lines.size(), 5u) << read_file(dir_ / "grid/summary.csv");
  EXPECT_EQ(lines[0],
            "rank,trial,status,val_accuracy,test_accuracy,epochs,train_seconds,model.hidden,optimizer.lr,folder,error");
  double previous = 2;
  std::string best_folder;
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto cells = csv_cells(lines[i]);
    ASSERT_GE(cells.size(), 10u) << lines[i];
    EXPECT_EQ(cells[0], std::to_string(i));
    EXPECT_EQ(cells[2], "finished");
    EXPECT_EQ(cells[5], "2");
    const double metric = std::stod(cells[3]);
    EXPECT_LE(metric, previous) << "ranked best first";
    previous = metric;
    if (i == 1) best_folder = cells[9];
    const fs::path trial = trial_dir("grid", cells[9]);
    EXPECT_EQ(status_of(trial), "finished");
    EXPECT_TRUE(fs::exists(trial / "checkpoints/best.pt"));
    EXPECT_NE(read_file(trial / "train.log").find("800 train / 399 validation / 300 test examples"), std::string::npos)
        << read_file(trial / "train.log");
  }
  EXPECT_EQ(read_json_file(dir_ / "grid/best.json"), read_json_file(trial_dir("grid", best_folder) / "config.json"));
  EXPECT_EQ(read_file(dir_ / "grid/sweep.png").substr(1, 3), "PNG");
  const std::string md = read_file(dir_ / "grid/summary.md");
  EXPECT_NE(md.find("| rank | trial | `model.hidden` | `optimizer.lr` | val_accuracy |"), std::string::npos) << md;
  EXPECT_NE(md.find("Epochs trained: 8 (100% of the 8"), std::string::npos) << md;
  EXPECT_NE(r.output.find(md.substr(0, md.find('\n'))), std::string::npos) << "the summary is printed";
  // `deepl runs` reads the trials as the run folders they are.
  const auto runs = run_deepl("runs " + (dir_ / "grid").string() + " --format csv");
  EXPECT_EQ(runs.code, 0) << runs.output;
  EXPECT_EQ(csv_lines(dir_ / "grid/summary.csv").size(), 5u);

  // The same command again: nothing is trained again.
  const auto best_mtime = fs::last_write_time(trial_dir("grid", best_folder) / "checkpoints/last.pt");
  const auto again = run_deepl(sweep_args(sweep));
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("nothing to run"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("starts"), std::string::npos) << again.output;
  EXPECT_EQ(fs::last_write_time(trial_dir("grid", best_folder) / "checkpoints/last.pt"), best_mtime);

  // A sweep file changed since the sweep started is refused, naming the difference.
  write_sweep("grid", {{"space", {{"optimizer.lr", {0.0003, 0.01}}, {"model.hidden", {{16}, {48}}}}},
                       {"set", {{"data.train_limit", 800}}},
                       {"jobs", 2}});
  const auto changed = run_deepl(sweep_args(sweep));
  EXPECT_EQ(changed.code, 2) << changed.output;
  EXPECT_NE(changed.output.find("changed since the sweep"), std::string::npos) << changed.output;
  EXPECT_NE(changed.output.find("sweep.space.optimizer.lr: [0.0003,0.003] -> [0.0003,0.01]"), std::string::npos)
      << changed.output;
}

TEST_F(Sweep, AFailingTrialIsRecordedWithItsErrorAndTheSweepGoesOn) {
  // SGD at lr 100 with momentum overflows to a non-finite loss within the first epoch.
  const fs::path sweep = write_sweep("failing", {{"space", {{"optimizer.lr", {0.001, 100}}}},
                                                 {"set", {{"optimizer.type", "sgd"}, {"optimizer.momentum", 0.9}}}});
  const auto r = run_deepl(sweep_args(sweep));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("trial 1 failed (exit 1)"), std::string::npos) << r.output;
  const json state = read_json_file(trial_dir("failing", "001-lr=100") / "trial.json");
  EXPECT_EQ(state["status"], "failed");
  EXPECT_NE(state["error"].get<std::string>().find("non-finite"), std::string::npos) << state.dump();
  const auto lines = csv_lines(dir_ / "failing/summary.csv");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1].substr(0, 13), "1,0,finished,");
  EXPECT_EQ(lines[2].substr(0, 11), "2,1,failed,");
  EXPECT_NE(lines[2].find("non-finite"), std::string::npos) << lines[2];
  // A failed trial is not run again unless asked.
  const auto again = run_deepl(sweep_args(sweep));
  EXPECT_EQ(again.output.find("trial 1 starts"), std::string::npos) << again.output;
  const auto retried = run_deepl(sweep_args(sweep, "--retry-failed"));
  EXPECT_NE(retried.output.find("trial 1 starts"), std::string::npos) << retried.output;
  EXPECT_EQ(retried.output.find("trial 0 starts"), std::string::npos) << retried.output;
}

TEST_F(Sweep, KilledWithSigkillMidTrialItResumesTheTrialAndKeepsTheFinishedOnes) {
  const fs::path sweep =
      write_sweep("killed", {{"space", {{"optimizer.lr", {0.002, 0.001}}}}, {"set", {{"train.epochs", 20}}}});
  const fs::path log = dir_ / "killed.log";
  const pid_t pid = deepl::testing::spawn_deepl(
      {"sweep", "--config", sweep.string(), "--out", (dir_ / "killed").string(), "--threads", "1"}, {}, log);
  const fs::path first = trial_dir("killed", "000-lr=0.002"), second = trial_dir("killed", "001-lr=0.001");
  // Kill the sweep once the first trial has finished and the second has a checkpoint after epoch 1.
  ASSERT_TRUE(
      wait_until([&] { return status_of(first) == "finished" && fs::exists(second / "checkpoints/last.pt"); }, 120))
      << read_file(log);
  ::kill(pid, SIGKILL);
  EXPECT_EQ(deepl::testing::wait_status(pid), 128 + SIGKILL);
  // The trial is told by the kernel (parent-death signal) and stops gracefully.
  ASSERT_TRUE(wait_until([&] { return status_of(second) == "interrupted"; }, 60)) << read_file(second / "train.log");
  const auto finished_mtime = fs::last_write_time(first / "checkpoints/last.pt");

  const auto r = run_deepl(sweep_args(sweep));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("trial 0 starts"), std::string::npos) << "the finished trial is not run again: " << r.output;
  EXPECT_EQ(r.output.find("trial 0 resumes"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("trial 1 resumes"), std::string::npos) << r.output;
  EXPECT_EQ(fs::last_write_time(first / "checkpoints/last.pt"), finished_mtime);
  EXPECT_EQ(status_of(second), "finished");
  train_reference("reference", "--set train.epochs=20 --set optimizer.lr=0.001");
  EXPECT_EQ(history_without_timings(second), history_without_timings(dir_ / "reference"))
      << "the resumed trial ends as an uninterrupted run";
}

TEST_F(Sweep, TrialKRunsOneTrialForAJobArrayAndSummarizeCollects) {
  const fs::path sweep =
      write_sweep("array", {{"space", {{"optimizer.lr", {0.003, 0.001, 0.0003}}}}, {"set", {{"train.epochs", 1}}}});
  const auto one = run_deepl(sweep_args(sweep, "--trial 1"));
  ASSERT_EQ(one.code, 0) << one.output;
  EXPECT_EQ(status_of(trial_dir("array", "001-lr=0.001")), "finished");
  EXPECT_FALSE(fs::exists(trial_dir("array", "000-lr=0.003")));
  const auto list = run_deepl(sweep_args(sweep, "--list"));
  EXPECT_NE(list.output.find("  1  finished   001-lr=0.001  optimizer.lr=0.001"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("  0  pending    000-lr=0.003"), std::string::npos) << list.output;
  for (const char* k : {"0", "2"}) ASSERT_EQ(run_deepl(sweep_args(sweep, std::string("--trial ") + k)).code, 0);
  const auto summary = run_deepl(sweep_args(sweep, "--summarize"));
  ASSERT_EQ(summary.code, 0) << summary.output;
  EXPECT_EQ(csv_lines(dir_ / "array/summary.csv").size(), 4u);
  EXPECT_TRUE(fs::exists(dir_ / "array/best.json"));
  const auto out_of_range = run_deepl(sweep_args(sweep, "--trial 3"));
  EXPECT_EQ(out_of_range.code, 2);
  EXPECT_NE(out_of_range.output.find("--trial 3: the sweep has trials 0 to 2"), std::string::npos)
      << out_of_range.output;
  const fs::path halving =
      write_sweep("halving", {{"space", {{"optimizer.lr", {0.003, 0.001}}}}, {"method", "halving"}});
  const auto refused = run_deepl(sweep_args(halving, "--trial 0"));
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.output.find("halving needs a coordinator"), std::string::npos) << refused.output;
}

TEST_F(Sweep, HalvingContinuesTheBestTrialsAndItsWinnerEndsAsAFullRun) {
  const fs::path sweep = write_sweep("halving", {{"space", {{"optimizer.lr", {0.01, 0.003, 0.001, 0.0001}}}},
                                                 {"method", "halving"},
                                                 {"halving", {{"min_epochs", 1}, {"eta", 2}}},
                                                 {"set", {{"train.epochs", 4}}},
                                                 {"jobs", 2}});
  const auto r = run_deepl(sweep_args(sweep));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("halving rung 3 of 3: 1 trial(s) to epoch 4"), std::string::npos) << r.output;
  const auto lines = csv_lines(dir_ / "halving/summary.csv");
  ASSERT_EQ(lines.size(), 5u);
  std::vector<std::string> epochs, statuses, folders;
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto cells = csv_cells(lines[i]);
    statuses.push_back(cells[2]);
    epochs.push_back(cells[5]);
    folders.push_back(cells[8]);
  }
  EXPECT_EQ(epochs, (std::vector<std::string>{"4", "2", "1", "1"}));
  EXPECT_EQ(statuses, (std::vector<std::string>{"finished", "paused", "paused", "paused"}));
  EXPECT_NE(read_file(dir_ / "halving/summary.md").find("Epochs trained: 8 (50% of the 16"), std::string::npos);
  // Paused at epochs 1 and 2 and resumed, the winner ends exactly as an uninterrupted 4-epoch run.
  const std::string lr =
      read_json_file(trial_dir("halving", folders[0]) / "trial.json")["values"]["optimizer.lr"].dump();
  train_reference("reference", "--set train.epochs=4 --set optimizer.lr=" + lr);
  EXPECT_EQ(history_without_timings(trial_dir("halving", folders[0])), history_without_timings(dir_ / "reference"));
  EXPECT_EQ(read_json_file(trial_dir("halving", folders[0]) / "metrics.json")["accuracy"],
            read_json_file(dir_ / "reference/metrics.json")["accuracy"]);
}
