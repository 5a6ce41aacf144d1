#pragma once
// deepl's built-in models, in the LibTorch C++ frontend idiom (Options / Impl / TORCH_MODULE).
// Parameter names equal those of the equivalent PyTorch model:
//   Mlp    == nn.Sequential(Flatten, Linear, act, [Dropout], ..., Linear)         "1.weight", ...
//   Linear == nn.Sequential(Flatten, Linear)                                       "1.weight"
//   Cnn    == features: nn.Sequential(Conv2d, [BatchNorm2d], act, ..., MaxPool2d, [Dropout]) ...
//             classifier: nn.Sequential(Flatten, [Dropout], Linear, act, ..., Linear)
#include <torch/nn/options.h>

#include <cstdint>
#include <string>
#include <vector>

#include "deepl/models/network.h"

namespace deepl::models {

struct LinearModelOptions {
  LinearModelOptions(int64_t in_features, int64_t out_features) : in_features_(in_features), out_features_(out_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, out_features);
  TORCH_ARG(bool, bias) = true;
};

/// A linear layer on flattened inputs: linear regression, or logistic regression with one output
/// trained with BCE-with-logits.
class LinearModelImpl : public NetworkImpl {
 public:
  explicit LinearModelImpl(const LinearModelOptions& options);
  LinearModelOptions options;
};
TORCH_MODULE(LinearModel);

struct MlpOptions {
  MlpOptions(int64_t in_features, int64_t out_features) : in_features_(in_features), out_features_(out_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, out_features);
  TORCH_ARG(std::vector<int64_t>, hidden) = {128};
  TORCH_ARG(std::string, activation) = "relu";
  /// Dropout after each hidden layer: one value for all, or one per hidden layer.
  TORCH_ARG(std::vector<double>, dropout) = {0.0};
};

class MlpImpl : public NetworkImpl {
 public:
  explicit MlpImpl(const MlpOptions& options);
  MlpOptions options;
};
TORCH_MODULE(Mlp);

struct ConvSpec {
  int64_t out_channels = 32;
  int64_t kernel_size = 3;
  int64_t stride = 1;
  int64_t padding = 0;
};

struct CnnBlock {
  std::vector<ConvSpec> convs;
  std::string activation = "relu";
  bool batch_norm = false;
  int64_t pool = 2;  // 0: no pooling
  std::string pool_type = "max";
  double dropout = 0.0;
};

struct CnnOptions {
  CnnOptions(int64_t in_channels, int64_t height, int64_t width, int64_t out_features)
      : in_channels_(in_channels), height_(height), width_(width), out_features_(out_features) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, height);
  TORCH_ARG(int64_t, width);
  TORCH_ARG(int64_t, out_features);
  TORCH_ARG(std::vector<CnnBlock>, blocks);
  TORCH_ARG(std::vector<int64_t>, hidden) = {};
  TORCH_ARG(std::string, activation) = "relu";
  /// Dropout after flattening and after each hidden layer of the head.
  TORCH_ARG(double, dropout) = 0.0;
};

class CnnImpl : public NetworkImpl {
 public:
  explicit CnnImpl(const CnnOptions& options);
  CnnOptions options;
};
TORCH_MODULE(Cnn);

}  // namespace deepl::models
