#pragma once
// A trained network as an ONNX inference graph (opset 13): every stage's layers translated one by
// one in eval mode (dropout left out, batch norm with its running statistics), the input
// normalisation folded in as the graph's first nodes, a dynamic batch dimension, class names and
// the input spec in the model's metadata. A layer without a translation is refused by name.
#include <string>
#include <utility>
#include <vector>

#include "deepl/io/onnx_model.h"
#include "deepl/models/network.h"
#include "deepl/models/registry.h"

namespace deepl::models {

/// What the exported graph takes, and how deepl's data pipeline turned it into the model's input.
struct OnnxInput {
  /// Pictures: {C, H, W}, fed as float pixel values 0..255, NCHW; the graph computes
  /// x * 1 / (255 sd) - mean / sd per channel, as deepl's loader does. A table: {F} features, fed as
  /// [N, F] raw values; the graph computes (x - mean) / sd per feature, as deepl's table source does.
  std::vector<int64_t> shape;
  std::vector<double> mean{0.0}, std{1.0};  // one value: every channel
  bool table = false;
};

struct OnnxExportOptions {
  OnnxInput input;
  Task task = Task::kClassification;
  /// A regression's output back in the target's units: value * target_std + target_mean.
  double target_mean = 0.0, target_std = 1.0;
  std::string graph_name = "deepl";
  std::vector<std::pair<std::string, std::string>> metadata;  // added to the model's metadata_props
};

/// The network (put in eval mode for the translation, its mode restored after) as an ONNX model
/// whose input is "input" and output "logits" ([N, classes]; [N, 1] for a binary model), or for a
/// regression "value" ([N, 1], in the target's units). Throws a
/// usage error naming the first layer it cannot translate.
io::onnx::Model to_onnx(NetworkImpl& model, const OnnxExportOptions& options);

}  // namespace deepl::models
