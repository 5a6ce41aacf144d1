#pragma once
// Layer-by-layer summary of a network: output shape, parameters and FLOPs per example
// (a multiply-add counts as 2 FLOPs), found by running one example through each layer.
#include <cstdint>
#include <string>
#include <vector>

#include "deepl/models/network.h"

namespace deepl::models {

struct LayerSummary {
  std::string name;  // state-dict prefix, e.g. "features.0"
  std::string kind;  // e.g. "torch::nn::Conv2d"
  std::vector<int64_t> output_shape;  // without the batch dimension
  int64_t parameters = 0;
  int64_t flops = 0;
};

struct ModelSummary {
  std::vector<LayerSummary> layers;
  int64_t parameters = 0;
  int64_t trainable_parameters = 0;
  int64_t flops = 0;  // forward, per example
};

/// Summarises `net` for inputs of shape [C, H, W].
ModelSummary summarize(NetworkImpl& net, const std::vector<int64_t>& input_shape);
/// The summary as an aligned text table.
std::string format_summary(const ModelSummary& summary);

}  // namespace deepl::models
