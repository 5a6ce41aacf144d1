#include "deepl/dist/world.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "deepl/core/error.h"

namespace deepl::dist {

namespace {

// SLURM_NTASKS_PER_NODE may read "2" or "2(x3)"; the leading count is the tasks on this node.
int leading_count(const std::string& text) { return std::atoi(text.c_str()); }

}  // namespace

int env_integer(const EnvLookup& env, const std::string& name, int fallback, int lo, int hi) {
  const auto text = env(name);
  if (!text) return fallback;
  try {
    size_t used = 0;
    const long value = std::stol(*text, &used);
    if (used != text->size() || value < lo || value > hi) throw std::out_of_range(name);
    return static_cast<int>(value);
  } catch (const std::exception&) {
    throw_usage(fmt::format("environment {}=\"{}\": expected an integer in [{}, {}]", name, *text, lo, hi));
  }
}

std::optional<std::string> getenv_lookup(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (!value || !*value) return std::nullopt;
  return std::string(value);
}

std::string WorldInfo::describe() const {
  return fmt::format("rank {}/{} (local {}/{}), rendezvous {}:{} via {}", rank, world_size, local_rank,
                     local_world_size, master_addr, master_port,
                     agent_store_prefix ? "torchrun's agent store" : "rank 0's store");
}

WorldInfo world_from_environment(const EnvLookup& env) {
  constexpr int kMaxRanks = 1 << 20;
  WorldInfo w;
  if (env("WORLD_SIZE")) {
    w.launcher = "env";
    w.world_size = env_integer(env, "WORLD_SIZE", 1, 1, kMaxRanks);
    w.rank = env_integer(env, "RANK", -1, 0, kMaxRanks);
    if (w.rank < 0) throw_usage("environment WORLD_SIZE is set but RANK is not");
    w.local_rank = env_integer(env, "LOCAL_RANK", w.rank, 0, kMaxRanks);
    w.local_world_size = env_integer(env, "LOCAL_WORLD_SIZE", w.world_size, 1, kMaxRanks);
  } else if (env("SLURM_PROCID") && env("SLURM_NTASKS")) {
    w.launcher = "slurm";
    w.world_size = env_integer(env, "SLURM_NTASKS", 1, 1, kMaxRanks);
    w.rank = env_integer(env, "SLURM_PROCID", 0, 0, kMaxRanks);
    w.local_rank = env_integer(env, "SLURM_LOCALID", 0, 0, kMaxRanks);
    const auto per_node = env("SLURM_NTASKS_PER_NODE");
    w.local_world_size = per_node ? std::max(1, leading_count(*per_node)) : 1;
  } else {
    return w;
  }
  if (w.rank >= w.world_size) throw_usage(fmt::format("rank {} is outside world size {}", w.rank, w.world_size));
  if (w.local_rank >= w.local_world_size) {
    throw_usage(fmt::format("local rank {} is outside local world size {}", w.local_rank, w.local_world_size));
  }
  if (const auto addr = env("MASTER_ADDR")) w.master_addr = *addr;
  else if (w.world_size > 1 && w.launcher == "slurm") throw_usage("SLURM launch: set MASTER_ADDR to rank 0's host name");
  w.master_port = env_integer(env, "MASTER_PORT", w.master_port, 1, std::numeric_limits<uint16_t>::max());
  if (env("TORCHELASTIC_USE_AGENT_STORE").value_or("") == "True") {
    w.agent_store_prefix = "/worker/attempt_" + env("TORCHELASTIC_RESTART_COUNT").value_or("0");
  }
  return w;
}

}  // namespace deepl::dist
