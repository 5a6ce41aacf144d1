#pragma once
// `deepl train --nproc K`: a one-machine stand-in for torchrun.
#include <chrono>
#include <string>
#include <vector>

namespace deepl::dist {

struct LaunchOptions {
  int nproc = 2;
  /// After one rank fails, how long the others get to exit on SIGTERM before SIGKILL.
  std::chrono::milliseconds grace = std::chrono::seconds(10);
  /// After a rank fails, start the whole group again this many times (not after a usage error, exit
  /// status 2, nor when the launcher itself got SIGINT/SIGTERM).
  int max_restarts = 0;
  /// The ranks' arguments on a restart (e.g. with --resume auto); empty: the same as the first time.
  std::vector<std::string> restart_args;
};

/// Runs `program args...` as ranks 0..nproc-1 of one job on 127.0.0.1 (RANK, WORLD_SIZE, LOCAL_RANK,
/// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT set as torchrun sets them, on a free port), forwards
/// SIGINT/SIGTERM to them and waits. If a rank fails the others are stopped and its exit status is
/// returned (128 + signal for a signal) once `max_restarts` restarts are spent; 0 when every rank succeeded.
int launch_local(const std::string& program, const std::vector<std::string>& args, const LaunchOptions& options);

}  // namespace deepl::dist
