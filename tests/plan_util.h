#pragma once
// Typed options from config sections, read the way runs read them: through config::plan_experiment.
#include <nlohmann/json.hpp>

#include "deepl/config/config.h"
#include "deepl/config/plan.h"

namespace deepl::testing {

/// The plan of a minimal MLP experiment with `sections` (e.g. {{"optimizer", {...}}}) on top.
inline config::ExperimentPlan plan_with(const nlohmann::json& sections) {
  nlohmann::json raw = {{"name", "t"}, {"model", {{"type", "mlp"}}}};
  for (const auto& item : sections.items()) raw[item.key()] = item.value();
  return config::plan_experiment(config::resolve_experiment(raw));
}

inline train::OptimizerOptions optimizer_options(const nlohmann::json& section) {
  return plan_with({{"optimizer", section}}).optimizer;
}

inline train::SchedulerOptions scheduler_options(const nlohmann::json& section) {
  return plan_with({{"scheduler", section}}).scheduler;
}

}  // namespace deepl::testing
