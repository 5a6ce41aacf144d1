#pragma once
// The model registry: model.type -> option schema + builder. A new model plugs in with one
// register_model call; the config validator and `deepl model summary` find it there.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "deepl/core/schema.h"

namespace deepl::models {

class NetworkImpl;

/// What the loss and the metrics look like for a model's outputs.
enum class Task {
  kClassification,  // [B, K] logits, cross-entropy
  kBinary,          // [B, 1] logits, BCE-with-logits, two classes
  kRegression,      // [B, D] values, mean squared error
};

/// What a builder knows about the data: image shape and class count.
struct InputSpec {
  int64_t channels = 1, height = 28, width = 28;
  int64_t num_classes = 10;
  int64_t features() const { return channels * height * width; }
};

struct ModelEntry {
  std::string type;
  std::string doc;
  Task task = Task::kClassification;
  std::vector<schema::Field> fields;  // options besides "type"
  std::function<std::shared_ptr<NetworkImpl>(const nlohmann::json& options, const InputSpec& input)> build;
};

/// Adds (or replaces) a model type.
void register_model(ModelEntry entry);
/// The entry for `type`; throws a usage error with a "did you mean" otherwise.
const ModelEntry& find_model(const std::string& type);
std::vector<std::string> model_types();
/// Builds the model a validated `model` config section describes.
std::shared_ptr<NetworkImpl> build_model(const nlohmann::json& model_section, const InputSpec& input);
/// Output units the model needs for its task: K for classification, 1 for binary.
int64_t output_units(Task task, const InputSpec& input);

}  // namespace deepl::models
