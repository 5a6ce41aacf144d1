// Crash safety of `deepl train`: SIGKILL at random moments never leaves a torn file and the run
// resumes to the uninterrupted result; SIGINT/SIGTERM stop gracefully with an exact-resume last.pt.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <random>
#include <sstream>
#include <thread>

#include "../test_util.h"
#include "cli_util.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/train/checkpoint.h"

using namespace deepl;
using deepl::testing::history_without_timings;
using deepl::testing::TempDir;
using deepl::testing::wait_status;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

pid_t spawn_train(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> all = {"train"};
  all.insert(all.end(), args.begin(), args.end());
  return deepl::testing::spawn_deepl(all, {}, log);
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Every file of the run is complete: it parses as what its name says. Returns the number of
// temp files (writes the kill interrupted), which are not part of the run.
int expect_no_torn_files(const fs::path& run_dir) {
  int temp_files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(run_dir)) {
    if (!entry.is_regular_file()) continue;
    const fs::path& p = entry.path();
    const std::string name = p.filename().string();
    if (name.find(".tmp.") != std::string::npos) {
      ++temp_files;
      continue;
    }
    const std::string bytes = read_file(p);
    if (ends_with(name, ".jsonl")) {
      std::istringstream in(bytes);
      for (std::string line; std::getline(in, line);) EXPECT_TRUE(json::accept(line)) << p;
      EXPECT_TRUE(ends_with(bytes, "\n")) << p;
    } else if (ends_with(name, ".json")) {
      EXPECT_TRUE(json::accept(bytes)) << p;
    } else if (ends_with(name, ".csv")) {
      EXPECT_TRUE(ends_with(bytes, "\n")) << p;
    } else if (ends_with(name, ".pt")) {
      EXPECT_NO_THROW(train::read_checkpoint(p)) << p;
    } else if (ends_with(name, ".png")) {
      EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << p;
      EXPECT_TRUE(ends_with(bytes, std::string("IEND\xae\x42\x60\x82", 8))) << p;
    } else if (ends_with(name, ".html")) {
      EXPECT_TRUE(ends_with(bytes, "</html>\n")) << p;
    } else {
      ADD_FAILURE() << "unexpected file in the run folder: " << p;
    }
  }
  return temp_files;
}

// Waits until a write_file_atomic temp file shows up in `dir` (a checkpoint being written).
bool wait_for_temp_file(const fs::path& dir, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().filename().string().find(".tmp.") != std::string::npos) return true;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return false;
}

void expect_same_weights(const fs::path& a, const fs::path& b) {
  const auto ca = train::read_checkpoint(a), cb = train::read_checkpoint(b);
  ASSERT_EQ(ca.model.size(), cb.model.size());
  for (const auto& [name, t] : ca.model) EXPECT_TRUE(torch::equal(t, cb.model.at(name))) << a << " vs " << b << ": " << name;
}

class CrashSafety : public ::testing::Test {
 protected:
  // 4800 training examples in batches of 16 (300 steps per epoch), an MLP with dropout (so the
  // generator state matters) and Adam (so the optimizer state does): ~0.4 s per epoch here, ~4 s
  // under the sanitizers, whose preset sets DEEPL_CRASH_EPOCHS to train fewer.
  void SetUp() override {
    const char* epochs = std::getenv("DEEPL_CRASH_EPOCHS");
    deepl::testing::write_synthetic_dataset(dir_.path(), "mnist", 6000, 500);
    config_ = dir_ / "crash.json";
    write_json_file(config_, {{"name", "crash"},
                              {"seed", 11},
                              {"threads", 1},
                              {"data", {{"dataset", "mnist"}, {"root", dir_.path().string()}, {"val_fraction", 0.2},
                                        {"batch_size", 16}, {"eval_batch_size", 500}}},
                              {"model", {{"type", "mlp"}, {"hidden", {256}}, {"dropout", 0.2}}},
                              {"optimizer", {{"type", "adam"}, {"lr", 0.001}}},
                              {"train", {{"epochs", epochs ? std::atoi(epochs) : 24}}},
                              {"output", {{"dir", (dir_ / "runs").string()}}}});
  }
  std::vector<std::string> args(const std::string& out, bool resume) const {
    std::vector<std::string> a = {"--quiet", "--config", config_.string(), "--out", (dir_ / out).string()};
    if (resume) a.insert(a.end(), {"--resume", (dir_ / out / "checkpoints/last.pt").string()});
    return a;
  }
  void train_uninterrupted(const std::string& out) {
    ASSERT_EQ(wait_status(spawn_train(args(out, false), dir_ / (out + ".log"))), 0) << read_file(dir_ / (out + ".log"));
  }
  void expect_same_run(const std::string& a, const std::string& b) {
    EXPECT_EQ(history_without_timings(dir_ / a), history_without_timings(dir_ / b));
    EXPECT_EQ(read_json_file(dir_ / a / "metrics.json")["accuracy"], read_json_file(dir_ / b / "metrics.json")["accuracy"]);
    expect_same_weights(dir_ / a / "checkpoints/last.pt", dir_ / b / "checkpoints/last.pt");
    expect_same_weights(dir_ / a / "checkpoints/best.pt", dir_ / b / "checkpoints/best.pt");
  }

  TempDir dir_;
  fs::path config_;
};

}  // namespace

TEST_F(CrashSafety, SigkillAtRandomMomentsNeverTearsAFileAndResumeFinishesTheSameRun) {
  const char* env = std::getenv("DEEPL_CRASH_CYCLES");
  const int cycles = env ? std::atoi(env) : 8;
  train_uninterrupted("reference");
  std::mt19937 rng(20261129);
  std::uniform_int_distribution<int> delay_ms(150, 1500);
  const fs::path log = dir_ / "killed.log";
  int kills = 0, torn_writes_seen = 0;
  for (int cycle = 0; cycle < cycles; ++cycle) {
    const bool resume = fs::exists(dir_ / "killed/checkpoints/last.pt");
    const pid_t pid = spawn_train(args("killed", resume), log);
    // Every other kill is aimed at a checkpoint write; the rest land at random moments.
    if (cycle % 2 == 1) wait_for_temp_file(dir_ / "killed/checkpoints", std::chrono::seconds(5));
    else std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    ::kill(pid, SIGKILL);
    const int status = wait_status(pid);
    if (status == 0) break;  // finished before the kill
    ASSERT_EQ(status, 128 + SIGKILL) << read_file(log);
    ++kills;
    if (fs::exists(dir_ / "killed")) torn_writes_seen += expect_no_torn_files(dir_ / "killed");
  }
  const bool resume = fs::exists(dir_ / "killed/checkpoints/last.pt");
  ASSERT_EQ(wait_status(spawn_train(args("killed", resume), log)), 0) << read_file(log);
  EXPECT_EQ(expect_no_torn_files(dir_ / "killed"), 0) << "the resumed run removes the killed writes' temp files";
  expect_same_run("reference", "killed");
  std::printf("%d kills, %d of them interrupted a file write\n", kills, torn_writes_seen);
}

TEST_F(CrashSafety, SigintAndSigtermStopGracefullyAndResumeExactly) {
  train_uninterrupted("reference");
  for (const int sig : {SIGINT, SIGTERM}) {
    const std::string out = sig == SIGINT ? "sigint" : "sigterm";
    const fs::path log = dir_ / (out + ".log");
    const pid_t pid = spawn_train(args(out, false), log);
    const fs::path metrics = dir_ / out / "metrics.jsonl";
    for (int i = 0; i < 600 && !fs::exists(metrics); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));  // into the second epoch
    ::kill(pid, sig);
    EXPECT_EQ(wait_status(pid), 128 + sig) << read_file(log);
    const std::string said = read_file(log);
    EXPECT_NE(said.find(std::string("stopped by ") + (sig == SIGINT ? "SIGINT" : "SIGTERM")), std::string::npos) << said;
    EXPECT_NE(said.find("Resume with: deepl train --config"), std::string::npos) << said;
    EXPECT_EQ(read_json_file(dir_ / out / "manifest.json")["status"], "interrupted");
    EXPECT_EQ(expect_no_torn_files(dir_ / out), 0);
    ASSERT_EQ(wait_status(spawn_train(args(out, true), log)), 0) << read_file(log);
    expect_same_run("reference", out);
  }
}
