#include "deepl/dist/launcher.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <thread>

#include "deepl/core/error.h"
#include "deepl/core/process.h"

namespace deepl::dist {

namespace {

volatile std::sig_atomic_t g_forward_signal = 0;

void remember_signal(int sig) { g_forward_signal = sig; }

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw_failure("--nproc: cannot open a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) throw_failure("--nproc: cannot bind a loopback port");
  return ntohs(addr.sin_port);
}

[[noreturn]] void exec_rank(const std::string& program, const std::vector<std::string>& args, int rank, int nproc,
                            int port) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a rank must not outlive its launcher
  // Its own process group: a terminal's Ctrl-C reaches the launcher alone, which forwards it once
  // (a rank's second SIGINT would skip the graceful stop).
  ::setpgid(0, 0);
  const std::string r = std::to_string(rank), n = std::to_string(nproc), p = std::to_string(port);
  ::setenv("RANK", r.c_str(), 1);
  ::setenv("LOCAL_RANK", r.c_str(), 1);
  ::setenv("WORLD_SIZE", n.c_str(), 1);
  ::setenv("LOCAL_WORLD_SIZE", n.c_str(), 1);
  ::setenv("MASTER_ADDR", "127.0.0.1", 1);
  ::setenv("MASTER_PORT", p.c_str(), 1);
  ::unsetenv("TORCHELASTIC_USE_AGENT_STORE");
  exec_program(program, args, "--nproc");
}

// One start of the group; its exit status, and whether the launcher itself was signalled.
struct GroupOutcome {
  int status = 0;
  bool signalled = false;
};

GroupOutcome run_group(const std::string& program, const std::vector<std::string>& args, const LaunchOptions& options) {
  const int port = free_loopback_port();
  spdlog::info("launching {} ranks on 127.0.0.1:{}", options.nproc, port);
  std::vector<pid_t> pids(options.nproc, -1);
  for (int rank = 0; rank < options.nproc; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) throw_failure("--nproc: fork failed");
    if (pid == 0) exec_rank(program, args, rank, options.nproc, port);
    pids[rank] = pid;
  }

  GroupOutcome outcome;
  int running = options.nproc;
  auto kill_at = std::chrono::steady_clock::time_point::max();  // none scheduled
  const auto signal_running = [&](int sig) {
    for (pid_t pid : pids)
      if (pid > 0) ::kill(pid, sig);
  };
  while (running > 0) {
    if (g_forward_signal) {
      const int sig = g_forward_signal;
      g_forward_signal = 0;
      signal_running(sig);
      outcome.signalled = true;
      if (outcome.status == 0) outcome.status = 128 + sig;
    }
    if (std::chrono::steady_clock::now() >= kill_at) {
      signal_running(SIGKILL);
      kill_at = std::chrono::steady_clock::time_point::max();
    }
    int status = 0;
    const pid_t done = ::waitpid(-1, &status, WNOHANG);
    if (done <= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    for (int rank = 0; rank < options.nproc; ++rank) {
      if (pids[rank] != done) continue;
      pids[rank] = -1;
      --running;
      const int code = exit_status(status);
      if (code != 0 && outcome.status == 0) {
        outcome.status = code;
        spdlog::error("rank {} exited with status {}; stopping the other ranks", rank, code);
        signal_running(SIGTERM);
        kill_at = std::chrono::steady_clock::now() + options.grace;
      }
    }
  }
  return outcome;
}

}  // namespace

int launch_local(const std::string& program, const std::vector<std::string>& args, const LaunchOptions& options) {
  if (options.nproc < 1) throw_usage(fmt::format("--nproc {}: expected at least 1", options.nproc));
  struct sigaction action {};
  action.sa_handler = remember_signal;
  sigemptyset(&action.sa_mask);
  struct sigaction old_int {}, old_term {};
  ::sigaction(SIGINT, &action, &old_int);
  ::sigaction(SIGTERM, &action, &old_term);
  GroupOutcome outcome = run_group(program, args, options);
  // A usage error (exit status 2: a bad config or option) would only fail again.
  const auto worth_restarting = [](const GroupOutcome& o) { return o.status != 0 && o.status != 2 && !o.signalled; };
  for (int restart = 1; restart <= options.max_restarts && worth_restarting(outcome); ++restart) {
    spdlog::warn("restarting all {} ranks ({} of at most {} restarts)", options.nproc, restart, options.max_restarts);
    outcome = run_group(program, options.restart_args.empty() ? args : options.restart_args, options);
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  return outcome.status;
}

}  // namespace deepl::dist
