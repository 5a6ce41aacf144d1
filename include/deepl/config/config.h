#pragma once
// Experiment configs: one JSON file describes a run. load_experiment parses it, applies
// "--set key.path=value" overrides, validates every key against the schema (errors name the JSON
// pointer) and fills in the defaults, giving the resolved config every run records.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "deepl/core/schema.h"

namespace deepl::config {

struct Experiment {
  nlohmann::json json;  // resolved: every key present
  std::string name;
  uint64_t seed = 0;
  int threads = 0;  // 0: all cores
};

/// model.type that picks a model for the data when training starts (run::choose_model).
inline constexpr const char* kAutoModel = "auto";

/// The metrics a run records per epoch, which checkpointing, early stopping and sweeps can watch.
const std::vector<std::string>& monitor_names();
/// The schema of an experiment (model options are per model type, in the model registry).
const std::vector<schema::Field>& experiment_fields();
/// Reads, overrides, validates and resolves an experiment file.
Experiment load_experiment(const std::filesystem::path& path, const std::vector<std::string>& overrides = {});
/// Validates and resolves an already parsed config; `origin` prefixes error messages.
Experiment resolve_experiment(nlohmann::json raw, const std::vector<std::string>& overrides = {},
                              const std::string& origin = "");
/// Applies "a.b.c=value" to raw JSON; value is parsed as JSON when it parses, else kept as a string.
void apply_override(nlohmann::json& raw, const std::string& assignment);
/// The raw config `deepl train --data PATH` trains: a folder of class sub-folders (data.dataset
/// "folder"), a folder holding IDX files named as MNIST's (*train-images*, *train-labels*,
/// *t10k-images* or *test-images*, *t10k-labels* or *test-labels*: "idx"), or a .csv file ("csv",
/// labelled by its `target` column); named after the folder or file, with `model_type` ("auto"
/// unless given). Throws a usage error naming the path otherwise.
nlohmann::json config_for_data(const std::filesystem::path& path, const std::string& model_type = kAutoModel,
                               const std::string& target = "");
/// Markdown reference table of every key, generated from the schema (docs/config.md embeds it).
std::string reference_markdown();

}  // namespace deepl::config
