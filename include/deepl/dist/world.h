#pragma once
// Where this process sits in a data-parallel job, read the way torchrun and SLURM publish it.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace deepl::dist {

struct WorldInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  /// torchrun's agent already hosts the store: every rank joins it as a client, under this prefix.
  std::optional<std::string> agent_store_prefix;
  std::string launcher = "single";  // single, env (torchrun, --nproc, by hand) or slurm

  bool distributed() const { return world_size > 1; }
  std::string describe() const;
};

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
/// The process environment.
std::optional<std::string> getenv_lookup(const std::string& name);
/// The integer in environment variable `name`, `fallback` when unset; anything but an integer in
/// [lo, hi] is a usage error naming the variable.
int env_integer(const EnvLookup& env, const std::string& name, int fallback, int lo, int hi);

/// Reads RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT (torchrun, `--nproc`,
/// by hand), else SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE (srun; MASTER_ADDR
/// still names rank 0's host). Neither set: a single process. Inconsistent values are usage errors.
WorldInfo world_from_environment(const EnvLookup& env = getenv_lookup);

}  // namespace deepl::dist
