#pragma once
// VGG 11/13/16/19 (with or without batch norm) with torchvision's layout and parameter names
// (features.0.weight ... avgpool ... classifier.6.bias; AdaptiveAvgPool2d(7, 7) before the
// classifier; vgg.py's initialisation), so torchvision's .pth files load with strict checking.
// An optional input adapter (no parameters) turns 1-channel images in [0, 1] into 3-channel,
// resized, ImageNet-normalised inputs for fine-tuning on MNIST-like data.
#include <torch/nn/options.h>

#include <string>
#include <vector>

#include "deepl/models/network.h"
#include "deepl/models/registry.h"

namespace deepl::models {

/// 1-channel images in [0, 1] -> 3-channel, resized (bilinear, align_corners false) to size x size,
/// ImageNet-normalised: the input an ImageNet-pretrained backbone expects. No parameters or
/// buffers, so the state dict keeps torchvision's names.
class InputAdapterImpl : public torch::nn::Module {
 public:
  explicit InputAdapterImpl(int64_t size);
  torch::Tensor forward(torch::Tensor x);
  int64_t size() const { return size_; }
  const torch::Tensor& mean() const { return mean_; }  // [1, 3, 1, 1]
  const torch::Tensor& std() const { return std_; }    // [1, 3, 1, 1]

 private:
  int64_t size_;
  torch::Tensor mean_, std_;
};
TORCH_MODULE(InputAdapter);

struct VggOptions {
  explicit VggOptions(int depth = 16) : depth_(depth) {}
  TORCH_ARG(int, depth);  // 11, 13, 16 or 19
  TORCH_ARG(bool, batch_norm) = false;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>({4096, 4096});  // classifier hidden sizes
  TORCH_ARG(double, dropout) = 0.5;
  /// 0: no adapter (inputs are already 3-channel, normalised); else resize inputs to this size.
  TORCH_ARG(int64_t, adapt_input_size) = 0;
};

class VggImpl : public NetworkImpl {
 public:
  explicit VggImpl(const VggOptions& options);
  /// Freezes the first `blocks` conv blocks (each ends with a max-pool); -1 freezes all of them.
  void freeze_features(int blocks);
  /// A network of the input adapter (when present) and the convolutional features, sharing this
  /// model's modules: what a frozen backbone computes.
  std::shared_ptr<NetworkImpl> backbone();
  /// A network of avgpool + classifier sharing this model's modules (training it trains them).
  std::shared_ptr<NetworkImpl> head();
  /// Number of conv blocks (5 for every VGG).
  static constexpr int kBlocks = 5;
  VggOptions options;

 private:
  std::shared_ptr<NetworkImpl> borrow_stages(const std::vector<std::string>& names) const;
};
TORCH_MODULE(Vgg);

/// The registry entry of model type "vgg".
ModelEntry vgg_model_entry();

}  // namespace deepl::models
