#pragma once
// Residual networks for small images, with torchvision's parameter names where they apply:
//   conv1, bn1 (stem) -> layer1 ... layerN (BasicBlocks: conv1, bn1, conv2, bn2, downsample.0/.1)
//   -> avgpool (global) -> dropout -> fc
// so `blocks [2,2,2,2], widths [64,128,256,512], strides [1,2,2,2]` with a 7x7/2 stem and its
// max-pool has exactly torchvision's resnet18 state dict. Pre-activation blocks (He et al. 2016,
// "Identity Mappings") keep the names, with bn1/bn2 in front of conv1/conv2; the stem is then
// conv1 alone and a final `norm` + ReLU precede the pooling.
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/options.h>

#include <vector>

#include "deepl/models/network.h"
#include "deepl/models/registry.h"

namespace deepl::models {

struct BasicBlockOptions {
  BasicBlockOptions(int64_t in_channels, int64_t out_channels)
      : in_channels_(in_channels), out_channels_(out_channels) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(bool, preact) = false;
  TORCH_ARG(bool, zero_init_residual) = false;
};

/// Two 3x3 convolutions and a shortcut (identity, or a strided 1x1 convolution when the shape
/// changes). Post-activation: relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut x).
/// Pre-activation: conv2(relu(bn2(conv1 a))) + shortcut, a = relu(bn1 x); the shortcut
/// convolution (when there is one) takes a, else it is x. zero_init_residual zeroes the residual
/// branch's last layer (bn2's weight, as torchvision; conv2's weight when pre-activated), so that the
/// block starts as its shortcut.
class BasicBlockImpl : public torch::nn::Module {
 public:
  explicit BasicBlockImpl(const BasicBlockOptions& options);
  torch::Tensor forward(torch::Tensor x);

  BasicBlockOptions options;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};  // null: identity shortcut
};
TORCH_MODULE(BasicBlock);

struct ResNetOptions {
  ResNetOptions(int64_t in_channels, int64_t num_classes) : in_channels_(in_channels), num_classes_(num_classes) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, num_classes);
  TORCH_ARG(int64_t, stem_channels) = 32;
  TORCH_ARG(int64_t, stem_kernel_size) = 3;
  TORCH_ARG(int64_t, stem_stride) = 1;
  TORCH_ARG(bool, stem_pool) = false;  // torchvision's 3x3/2 max-pool after the stem
  TORCH_ARG(std::vector<int64_t>, blocks) = std::vector<int64_t>({2, 2, 2});
  TORCH_ARG(std::vector<int64_t>, widths) = std::vector<int64_t>({32, 64, 128});
  TORCH_ARG(std::vector<int64_t>, strides) = std::vector<int64_t>({1, 2, 2});
  TORCH_ARG(bool, preact) = false;
  TORCH_ARG(bool, zero_init_residual) = false;  // each block starts as its shortcut (torchvision's option)
  TORCH_ARG(double, dropout) = 0.0;             // before fc
};

class ResNetImpl : public NetworkImpl {
 public:
  explicit ResNetImpl(const ResNetOptions& options);
  ResNetOptions options;
};
TORCH_MODULE(ResNet);

/// The registry entry of model type "resnet".
ModelEntry resnet_model_entry();

}  // namespace deepl::models
