#pragma once
// The run folder's manifest.json. Internal to the library.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "deepl/config/config.h"
#include "deepl/dist/world.h"

namespace deepl::run {

/// What a run's manifest records besides the config.
struct RunFacts {
  std::string started;  // ISO 8601
  int threads = 0;
  std::string device;     // "cpu (auto: LibTorch built without CUDA)"
  std::string precision;  // what was chosen and why: "fp32 (auto: CPU has no native bf16)"
  dist::WorldInfo world;
  nlohmann::json communication;  // data-parallel all-reduce figures (null for one process)
};

/// Writes the manifest: seed, threads, device, precision, CPU, world size, versions, git commit, host, times, status.
void write_manifest(const std::filesystem::path& run_dir, const config::Experiment& experiment, const RunFacts& facts,
                    const std::string& status, double wall_seconds);

}  // namespace deepl::run
