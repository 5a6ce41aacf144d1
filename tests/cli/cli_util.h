#pragma once
// What the end-to-end tests of the deepl binary share: starting it as a child process, waiting
// for it, and reading a run folder's metrics.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "../test_util.h"
#include "deepl/core/files.h"
#include "deepl/core/json_util.h"
#include "deepl/train/checkpoint.h"

namespace deepl::testing {

/// `p` in single quotes, as one shell word (paths with spaces).
inline std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

/// Runs the deepl binary with a command line's arguments; collects its exit status and output.
inline CommandResult run_deepl(const std::string& args) { return run_command(std::string(DEEPL_BIN) + " " + args); }

/// Writes `config_text` and a grid sweep over `space` of it (with `set` applied, one job) to `dir`,
/// and runs it into dir/sweep.
inline CommandResult run_grid_sweep(const std::filesystem::path& dir, const std::string& config_text,
                                    const nlohmann::json& set, const nlohmann::json& space) {
  write_file_atomic(dir / "experiment.json", config_text);
  write_file_atomic(dir / "sweep.json", nlohmann::json{{"experiment", (dir / "experiment.json").string()},
                                                       {"set", set},
                                                       {"space", space},
                                                       {"method", "grid"},
                                                       {"jobs", 1}}
                                            .dump());
  return run_deepl("sweep -q -c " + quoted(dir / "sweep.json") + " --out " + quoted(dir / "sweep"));
}

/// Starts `program args...` with extra environment variables; its output is appended to `log`.
inline pid_t spawn_program(const std::string& program, const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env, const std::filesystem::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv = {const_cast<char*>(program.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    std::_Exit(127);
  }
  return pid;
}

/// Starts `deepl args...` with extra environment variables; its output is appended to `log`.
inline pid_t spawn_deepl(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                         const std::filesystem::path& log) {
  return spawn_program(DEEPL_BIN, args, env, log);
}

inline int exit_status(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

/// The exit status (128 + signal when killed) once the process ends, or nullopt at the deadline.
inline std::optional<int> wait_exit(pid_t pid, std::chrono::seconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  for (;;) {  // looks at least once, so a zero deadline polls
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return exit_status(status);
    if (std::chrono::steady_clock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// Waits as long as it takes; the exit status as wait_exit gives it.
inline int wait_status(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return exit_status(status);
}

/// The rows of <run_dir>/metrics.jsonl without the timing fields, which differ from run to run.
inline std::vector<nlohmann::json> history_without_timings(const std::filesystem::path& run_dir) {
  std::istringstream in(read_file(run_dir / "metrics.jsonl"));
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json row = nlohmann::json::parse(line);
    row.erase("seconds");
    row.erase("examples_per_second");
    rows.push_back(row);
  }
  return rows;
}

/// A TCP port that was free on 127.0.0.1 a moment ago.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// Polls until `ready()` holds or the deadline passes.
template <typename Ready>
bool wait_until(Ready ready, std::chrono::seconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

inline bool wait_for_file(const std::filesystem::path& path, std::chrono::seconds deadline) {
  return wait_until([&] { return std::filesystem::exists(path); }, deadline);
}

/// The direct children of a process.
inline std::vector<pid_t> children_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<pid_t> out;
  for (pid_t child; in >> child;) out.push_back(child);
  return out;
}

/// The largest absolute difference between two checkpoints' weights.
inline double max_abs_difference(const std::filesystem::path& a, const std::filesystem::path& b) {
  const auto ca = train::read_checkpoint(a), cb = train::read_checkpoint(b);
  if (ca.model.size() != cb.model.size()) return 1e30;
  double worst = 0;
  for (const auto& [name, t] : ca.model) {
    worst = std::max(worst, (t.to(torch::kFloat64) - cb.model.at(name).to(torch::kFloat64)).abs().max().item<double>());
  }
  return worst;
}

/// The data-parallel tests' experiment: a small conv net, plain SGD with momentum, on the synthetic
/// MNIST in `data_root` (480 training examples). No dropout or batch norm, whose per-rank behaviour
/// differs. `train` keys are merged into the config's train section.
inline std::filesystem::path write_parallel_config(const std::filesystem::path& dir, const std::string& name,
                                                   int epochs, double timeout_seconds = 60, int batch_size = 64,
                                                   const nlohmann::json& train = nlohmann::json::object()) {
  // fp32 on every CPU: the comparisons with one process hold to 1e-5 there, but "auto" picks bf16
  // on a CPU with native bf16, whose rounding depends on how the batch is split between ranks.
  nlohmann::json train_section = {{"epochs", epochs}, {"precision", "fp32"}};
  train_section.update(train);
  const nlohmann::json cfg = {
      {"name", name},
      {"seed", 5},
      {"threads", 1},
      {"data", {{"dataset", "mnist"}, {"root", dir.string()}, {"val_fraction", 0.2}, {"batch_size", batch_size},
                {"eval_batch_size", 64}}},
      {"model", {{"type", "cnn"}, {"blocks", {{{"convs", {{{"out_channels", 8}, {"kernel_size", 3}}}}, {"pool", 2}}}}}},
      {"optimizer", {{"type", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}}},
      {"train", train_section},
      {"distributed", {{"timeout_seconds", timeout_seconds}}},
      {"output", {{"dir", (dir / "runs").string()}}}};
  const auto path = dir / (name + ".json");
  write_json_file(path, cfg);
  return path;
}

/// The checkpoint's position inside an epoch (null when it was written between epochs).
inline nlohmann::json epoch_position(const std::filesystem::path& checkpoint) {
  return train::read_checkpoint(checkpoint).meta["trainer"]["epoch_position"];
}

constexpr const char* kTorchrunWithoutLibuv =
    "this torchrun cannot start any job: its rendezvous store asks for libuv, which its PyTorch build lacks "
    "(Debian 13's python3-torch 2.6)";

/// Whether torchrun's output in `log` says it cannot start any job for want of libuv.
inline bool torchrun_lacks_libuv(const std::filesystem::path& log) {
  return std::filesystem::exists(log) && read_file(log).find("PyTorch was build without libuv support") != std::string::npos;
}

/// Waits until the run in `run_dir` has written a mid-epoch checkpoints/last.pt, or `give_up()` holds.
inline bool wait_for_mid_epoch_checkpoint(const std::filesystem::path& run_dir,
                                          const std::function<bool()>& give_up = [] { return false; }) {
  const auto last = run_dir / "checkpoints" / "last.pt";
  return wait_until([&] { return give_up() || (std::filesystem::exists(last) && !epoch_position(last).is_null()); },
                    std::chrono::seconds(90));
}

}  // namespace deepl::testing
