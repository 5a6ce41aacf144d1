#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "deepl/core/error.h"
#include "deepl/core/json_util.h"
#include "deepl/run/runs.h"
#include "session/auto_resume.h"

namespace deepl::run {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Keys that change where or how a run is written, watched or launched, never what it computes.
const std::vector<std::string> kKeysThatKeepTheResult = {
    "description", "threads", "output", "expect", "data.root", "train.log_every", "train.resume",
    "train.checkpoint.every", "train.checkpoint.every_steps", "train.checkpoint.every_minutes", "distributed"};

bool keeps_the_result(const std::string& key) {
  return std::any_of(kKeysThatKeepTheResult.begin(), kKeysThatKeepTheResult.end(), [&](const std::string& k) {
    return key == k || key.rfind(k + ".", 0) == 0;
  });
}

// A config that an older deepl wrote lacks the keys added since: compare it with their defaults.
json with_current_defaults(const json& stored) {
  try {
    return config::resolve_experiment(stored).json;
  } catch (const std::exception&) {
    return stored;  // no longer valid: every difference is named
  }
}

void refuse_if_changed(const json& before, const json& now, const fs::path& origin, const fs::path& run_dir) {
  std::vector<std::string> changed;
  for (const auto& difference : json_differences(with_current_defaults(before), now)) {
    if (!keeps_the_result(difference.substr(0, difference.find(':')))) changed.push_back(difference);
  }
  if (changed.empty()) return;
  throw_usage(fmt::format("--resume auto: {} was started with another config ({}); run it with that config, "
                          "continue it on purpose with --resume {}, or use another --out",
                          run_dir.string(), fmt::join(changed, "; "), origin.string()));
}

std::string position_text(const json& meta) {
  const json position = meta.at("trainer").value("epoch_position", json());
  if (position.is_null()) return fmt::format("after epoch {}", meta.at("epoch").get<int64_t>());
  return fmt::format("at epoch {}, step {} of the epoch", position.at("epoch").get<int64_t>(),
                     position.at("batches_done").get<int64_t>());
}

}  // namespace

AutoResume find_auto_resume(const fs::path& run_dir, const config::Experiment& exp) {
  AutoResume found;
  const fs::path last = run_dir / "checkpoints" / "last.pt";
  const json manifest = read_object_tolerant(run_dir / "manifest.json");
  if (fs::exists(last)) {
    found.checkpoint = train::read_checkpoint(last);
    found.path = last;
    refuse_if_changed(found.checkpoint->meta.at("config"), exp.json, last, run_dir);
  } else if (fs::exists(run_dir / "config.json")) {
    refuse_if_changed(read_object_tolerant(run_dir / "config.json"), exp.json, run_dir / "config.json", run_dir);
  }
  if (manifest.is_object() && manifest.value("status", "") == "finished") {
    found.finished = true;
    found.checkpoint.reset();
    spdlog::info("--resume auto: {} already finished; nothing to do", run_dir.string());
  } else if (found.checkpoint) {
    spdlog::info("--resume auto: continuing from {} ({})", last.string(), position_text(found.checkpoint->meta));
  } else {
    spdlog::info("--resume auto: no checkpoint in {}; starting fresh", run_dir.string());
  }
  return found;
}

}  // namespace deepl::run
