#pragma once
// What the end-to-end tests of the deepl binary share: starting it as a child process, waiting
// for it, and reading a run folder's metrics.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "../test_util.h"
#include "deepl/core/files.h"

namespace deepl::testing {

/// Runs the deepl binary with a command line's arguments; collects its exit status and output.
inline CommandResult run_deepl(const std::string& args) { return run_command(std::string(DEEPL_BIN) + " " + args); }

/// Starts `deepl args...` with extra environment variables; its output is appended to `log`.
inline pid_t spawn_deepl(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                         const std::filesystem::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv = {const_cast<char*>(DEEPL_BIN)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(DEEPL_BIN, argv.data());
    std::_Exit(127);
  }
  return pid;
}

inline int exit_status(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

/// The exit status (128 + signal when killed) once the process ends, or nullopt at the deadline.
inline std::optional<int> wait_exit(pid_t pid, std::chrono::seconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return exit_status(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
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

}  // namespace deepl::testing
