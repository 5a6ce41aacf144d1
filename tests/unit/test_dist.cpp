// The launch environment as torchrun, --nproc and SLURM publish it.
#include <gtest/gtest.h>

#include <map>

#include "../test_util.h"
#include "deepl/dist/world.h"

using namespace deepl;

namespace {

dist::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace

TEST(World, NoLaunchVariablesMeanOneProcess) {
  const auto w = dist::world_from_environment(env_of({}));
  EXPECT_FALSE(w.distributed());
  EXPECT_EQ(w.rank, 0);
  EXPECT_EQ(w.world_size, 1);
}

TEST(World, ReadsTorchrunsVariablesAndItsAgentStore) {
  const auto w = dist::world_from_environment(env_of({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"},
                                                     {"LOCAL_WORLD_SIZE", "2"}, {"MASTER_ADDR", "node0"},
                                                     {"MASTER_PORT", "29400"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                                                     {"TORCHELASTIC_RESTART_COUNT", "2"}}));
  EXPECT_TRUE(w.distributed());
  EXPECT_EQ(w.rank, 3);
  EXPECT_EQ(w.world_size, 4);
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.local_world_size, 2);
  EXPECT_EQ(w.master_addr, "node0");
  EXPECT_EQ(w.master_port, 29400);
  EXPECT_EQ(w.agent_store_prefix.value_or(""), "/worker/attempt_2");
}

TEST(World, MapsSlurmTasksToRanks) {
  const auto w = dist::world_from_environment(env_of({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"},
                                                     {"SLURM_NTASKS_PER_NODE", "4(x2)"}, {"MASTER_ADDR", "n1"}}));
  EXPECT_EQ(w.launcher, "slurm");
  EXPECT_EQ(w.rank, 5);
  EXPECT_EQ(w.world_size, 8);
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.local_world_size, 4);
  EXPECT_FALSE(w.agent_store_prefix.has_value());
}

TEST(World, InconsistentVariablesAreOneLineErrors) {
  using deepl::testing::error_message;
  EXPECT_NE(error_message([] { dist::world_from_environment(env_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}})); })
                .find("rank 2 is outside world size 2"),
            std::string::npos);
  EXPECT_NE(error_message([] { dist::world_from_environment(env_of({{"WORLD_SIZE", "two"}, {"RANK", "0"}})); })
                .find("WORLD_SIZE=\"two\""),
            std::string::npos);
  EXPECT_NE(error_message([] { dist::world_from_environment(env_of({{"WORLD_SIZE", "2"}})); }).find("RANK is not"),
            std::string::npos);
  EXPECT_NE(error_message([] {
              dist::world_from_environment(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}}));
            }).find("MASTER_PORT"),
            std::string::npos);
  EXPECT_NE(error_message([] { dist::world_from_environment(env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}})); })
                .find("MASTER_ADDR"),
            std::string::npos);
}
