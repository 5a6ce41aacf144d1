#pragma once
// `--resume auto`: what a run folder holds to continue from. Internal to the library.
#include <filesystem>
#include <optional>

#include "deepl/config/config.h"
#include "deepl/train/checkpoint.h"

namespace deepl::run {

/// What `--resume auto` found in a run folder.
struct AutoResume {
  bool finished = false;                        // the manifest says so: nothing to do
  std::optional<train::Checkpoint> checkpoint;  // last.pt to continue from, when not finished
  std::filesystem::path path;
};
/// Looks in `run_dir` for a finished run or a last.pt, and logs what it found. A folder started with a
/// config that differs from `exp` in a key that changes the result is refused, the differences named.
AutoResume find_auto_resume(const std::filesystem::path& run_dir, const config::Experiment& exp);

}  // namespace deepl::run
