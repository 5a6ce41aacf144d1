// Two nodes for real: two Linux network namespaces joined by a veth pair, one rank in each,
// meeting at the other namespace's private address (MASTER_ADDR) over the veth (GLOO_SOCKET_IFNAME).
// The test creates and removes the namespaces itself; where it may not (no root, no CAP_SYS_ADMIN,
// no iproute2) every test is skipped with the reason.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <optional>

#include "../test_util.h"
#include "cli_util.h"

using namespace deepl;
using namespace deepl::testing;
using nlohmann::json;
namespace fs = std::filesystem;
using std::chrono::seconds;

namespace {

constexpr double kTimeoutSeconds = 5;

std::string ip_program() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
    if (fs::exists(p)) return p;
  return "";
}

class TwoNodes : public ::testing::Test {
 protected:
  void SetUp() override {
    ip_ = ip_program();
    if (ip_.empty()) GTEST_SKIP() << "no ip command (iproute2) to create network namespaces";
    const int id = static_cast<int>(::getpid() % 10000);
    ns_ = {fmt::format("deepl-a-{}", id), fmt::format("deepl-b-{}", id)};
    veth_ = {fmt::format("dpla{}", id), fmt::format("dplb{}", id)};
    const std::string subnet = fmt::format("10.254.{}", id % 250);
    address_ = {subnet + ".1", subnet + ".2"};
    const auto made = run_command(fmt::format(
        "( {0} netns add {1} && {0} netns add {2} && {0} link add {3} netns {1} type veth peer name {4} netns {2} && "
        "{0} -n {1} addr add {5}/24 dev {3} && {0} -n {2} addr add {6}/24 dev {4} && "
        "{0} -n {1} link set lo up && {0} -n {2} link set lo up && {0} -n {1} link set {3} up && "
        "{0} -n {2} link set {4} up )",
        ip_, ns_[0], ns_[1], veth_[0], veth_[1], address_[0], address_[1]));
    created_ = true;
    if (made.code != 0) {
      GTEST_SKIP() << "cannot create two network namespaces joined by a veth pair here (it takes root, or "
                      "CAP_SYS_ADMIN and CAP_NET_ADMIN, and a mount namespace ip can use): "
                   << made.output;
    }
    write_synthetic_dataset(dir_.path(), "mnist", 600, 200);
  }
  void TearDown() override {
    if (created_) run_command(fmt::format("{0} netns del {1}; {0} netns del {2}", ip_, ns_[0], ns_[1]));
  }

  // Rank `rank` in namespace `rank`, as one process of a two-node job (one rank per node).
  pid_t start_rank(int rank, const std::vector<std::string>& train_args, int port) const {
    std::vector<std::string> args = {"netns", "exec", ns_[rank], DEEPL_BIN, "train"};
    args.insert(args.end(), train_args.begin(), train_args.end());
    return spawn_program(ip_, args,
                         {{"RANK", std::to_string(rank)}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "0"},
                          {"LOCAL_WORLD_SIZE", "1"}, {"MASTER_ADDR", address_[0]}, {"MASTER_PORT", std::to_string(port)},
                          {"GLOO_SOCKET_IFNAME", veth_[rank]}},
                         log(rank));
  }
  std::array<pid_t, 2> start_pair(const std::vector<std::string>& train_args) const {
    ++port_;  // a new port per start: the last one may linger in TIME_WAIT
    return {start_rank(0, train_args, port_), start_rank(1, train_args, port_)};
  }
  // Debian's torchrun on node `rank` (its namespace): one worker, restarted up to 3 times.
  pid_t start_torchrun(int rank, const std::vector<std::string>& train_args, int port) const {
    std::vector<std::string> args = {"netns", "exec", ns_[rank], "/usr/bin/torchrun", "--nnodes", "2", "--node_rank",
                                     std::to_string(rank), "--nproc_per_node", "1", "--master_addr", address_[0],
                                     "--master_port", std::to_string(port), "--max_restarts", "3",
                                     "--monitor_interval", "1", "-r", "9:0", "-t", "9:0", "--no_python", DEEPL_BIN,
                                     "train"};
    args.insert(args.end(), train_args.begin(), train_args.end());
    return spawn_program(ip_, args, {{"GLOO_SOCKET_IFNAME", veth_[rank]}}, log(rank));
  }
  fs::path log(int rank) const { return dir_ / fmt::format("rank{}.log", rank); }
  std::string logs() const { return read_file(log(0)) + "\n---- rank 1 ----\n" + read_file(log(1)); }
  void set_link(const char* state) const {
    ASSERT_EQ(run_command(fmt::format("{} -n {} link set {} {}", ip_, ns_[0], veth_[0], state)).code, 0);
  }
  // Batches of 8: 60 steps per epoch, last.pt every 10 steps.
  std::string config(const std::string& name, int epochs) const {
    return write_parallel_config(dir_.path(), name, epochs, kTimeoutSeconds, 8, {{"checkpoint", {{"every_steps", 10}}}})
        .string();
  }
  fs::path last(const std::string& run) const { return dir_ / run / "checkpoints/last.pt"; }
  // Both ranks end non-zero within the collective timeout + 30 s from now.
  void expect_both_fail(const std::array<pid_t, 2>& ranks) const {
    const auto end = std::chrono::steady_clock::now() + seconds(static_cast<int64_t>(kTimeoutSeconds) + 30);
    for (pid_t pid : ranks) {
      const auto code = wait_exit(pid, std::chrono::ceil<seconds>(end - std::chrono::steady_clock::now()));
      if (!code) ::kill(pid, SIGKILL), wait_status(pid);
      ASSERT_TRUE(code.has_value()) << "a rank outlived the timeout + 30 s\n" << logs();
      EXPECT_NE(*code, 0) << logs();
    }
  }
  void expect_pair_finishes(const std::vector<std::string>& train_args) const {
    const auto ranks = start_pair(train_args);
    for (pid_t pid : ranks) EXPECT_EQ(wait_exit(pid, seconds(180)), 0) << logs();
  }
  void expect_same_as_single(const std::string& cfg, const std::string& run) const {
    ASSERT_EQ(run_deepl("train --quiet --config " + cfg + " --out " + (dir_ / "single").string()).code, 0);
    EXPECT_LE(max_abs_difference(last("single"), last(run)), 1e-5);
    const auto a = history_without_timings(dir_ / "single"), b = history_without_timings(dir_ / run);
    ASSERT_EQ(a.size(), b.size());
    for (size_t e = 0; e < a.size(); ++e) EXPECT_EQ(a[e]["val_accuracy"], b[e]["val_accuracy"]) << "epoch " << e + 1;
  }

  std::string ip_;
  std::array<std::string, 2> ns_, veth_, address_;
  bool created_ = false;
  mutable int port_ = 20000 + static_cast<int>(::getpid() % 20000);
  TempDir dir_;
};

}  // namespace

TEST_F(TwoNodes, OneRankPerNamespaceReachesTheSingleProcessWeights) {
  const std::string cfg = config("pair", 2);
  expect_pair_finishes({"--quiet", "--config", cfg, "--out", (dir_ / "pair").string()});
  EXPECT_EQ(read_json_file(dir_ / "pair/manifest.json")["world_size"], 2);
  expect_same_as_single(cfg, "pair");
}

TEST_F(TwoNodes, ALinkDownStopsBothRanksAndTheSameCommandsFinishTheJobOnceItIsBack) {
  const std::string cfg = config("link", 3);
  const std::vector<std::string> args = {"--config", cfg, "--out", (dir_ / "link").string(), "--resume", "auto"};
  const auto ranks = start_pair(args);
  ASSERT_TRUE(wait_for_mid_epoch_checkpoint(dir_ / "link")) << logs();
  set_link("down");
  expect_both_fail(ranks);
  EXPECT_NE(logs().find("did not answer within 5 s"), std::string::npos) << logs();
  std::printf("last.pt after the link went down: %s\n", epoch_position(last("link")).dump().c_str());

  set_link("up");
  expect_pair_finishes(args);
  expect_same_as_single(cfg, "link");
}

TEST_F(TwoNodes, AKilledNodeStopsTheOtherAndTheSameCommandsFinishTheJob) {
  const std::string cfg = config("kill", 3);
  const std::vector<std::string> args = {"--config", cfg, "--out", (dir_ / "kill").string(), "--resume", "auto"};
  const auto ranks = start_pair(args);
  ASSERT_TRUE(wait_for_mid_epoch_checkpoint(dir_ / "kill")) << logs();
  ::kill(ranks[1], SIGKILL);
  EXPECT_EQ(wait_status(ranks[1]), 128 + SIGKILL);
  const auto code = wait_exit(ranks[0], seconds(static_cast<int64_t>(kTimeoutSeconds) + 30));
  if (!code) ::kill(ranks[0], SIGKILL), wait_status(ranks[0]);
  ASSERT_TRUE(code.has_value()) << logs();
  EXPECT_NE(*code, 0) << logs();

  expect_pair_finishes(args);
  expect_same_as_single(cfg, "kill");
}

TEST_F(TwoNodes, TorchrunOnEachNodeRestartsTheJobOnceTheLinkIsBack) {
  if (!fs::exists("/usr/bin/torchrun")) GTEST_SKIP() << "Debian's torchrun (python3-torch) is not installed";
  const std::string cfg = config("elastic", 3);
  const std::vector<std::string> args = {"--config", cfg, "--out", (dir_ / "elastic").string(), "--resume", "auto"};
  const int port = ++port_;
  const std::array<pid_t, 2> agents = {start_torchrun(0, args, port), start_torchrun(1, args, port)};
  std::optional<int> ended;
  const bool started = wait_for_mid_epoch_checkpoint(dir_ / "elastic", [&] {
    ended = wait_exit(agents[0], seconds(0));
    return ended || torchrun_lacks_libuv(log(0));
  });
  if (torchrun_lacks_libuv(log(0))) {
    if (!ended) ::kill(agents[0], SIGKILL), wait_status(agents[0]);
    ::kill(agents[1], SIGKILL), wait_status(agents[1]);
    GTEST_SKIP() << kTorchrunWithoutLibuv;
  }
  ASSERT_TRUE(started && !ended) << logs();
  set_link("down");
  // Both workers time out; the link comes back while the agents restart them.
  const bool both_failed = wait_until(
      [&] {
        const std::string a = read_file(log(0)), b = read_file(log(1));
        return a.find("failed (exitcode: 1)") != std::string::npos && b.find("failed (exitcode: 1)") != std::string::npos;
      },
      seconds(static_cast<int64_t>(kTimeoutSeconds) + 30));
  set_link("up");
  EXPECT_TRUE(both_failed) << logs();
  for (pid_t pid : agents) {
    const auto code = wait_exit(pid, seconds(180));
    if (!code) ::kill(pid, SIGKILL), wait_status(pid);
    EXPECT_EQ(code, 0) << logs();
  }
  EXPECT_NE(logs().find("--resume auto: continuing from"), std::string::npos) << logs();
  expect_same_as_single(cfg, "elastic");
}
