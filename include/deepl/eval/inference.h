#pragma once
// InferencePlan: a network prepared once for fast evaluation on the CPU, the eager counterpart of
// torch.jit.optimize_for_inference. Convolution stacks (conv, ReLU, max/avg pooling) run on
// oneDNN tensors in its blocked layout with the convolution weights reordered once and a batch
// norm that follows a convolution folded into it; dropout is dropped; every other layer runs its
// own forward on ordinary tensors. A post-activation residual block (models::BasicBlock) runs its
// convolutions on oneDNN tensors, each of its batch norms folded into the convolution before it.
// Outputs equal model.forward() in eval mode up to float rounding.
// The plan holds copies of the weights: build a new one after the weights change. Should oneDNN
// refuse a layer at run time, the plan logs a warning and uses the model's own forward from then on.
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "deepl/eval/tta.h"
#include "deepl/models/network.h"
#include "deepl/core/precision.h"

namespace deepl::eval {

class InferencePlan {
 public:
  /// Prepares `model` (put it in eval mode first); bf16 runs the plan in bfloat16 like autocast.
  /// With test-time augmentation `tta`, outputs are the mean of those for each of its views of the
  /// images (see TestTimeAugmentation).
  InferencePlan(models::NetworkImpl& model, const deepl::Precision& precision, TestTimeAugmentation tta = {});

  /// Float32 outputs for a batch of inputs (call under InferenceMode or NoGradGuard).
  torch::Tensor forward(const torch::Tensor& inputs) const;
  /// How many layers run on oneDNN tensors (0: the plan is the eager forward minus dropout).
  int onednn_layers() const { return onednn_layers_; }
  /// Whether oneDNN refused a layer and the plan now runs the model's own forward.
  bool fell_back() const { return fallback_; }

 private:
  enum class Layout { kDense, kOneDnn, kEither };
  struct Step {
    Layout layout;
    std::function<torch::Tensor(const torch::Tensor&)> run;
  };
  void add_layers(torch::nn::Sequential layers);
  torch::Tensor run_steps(torch::Tensor x) const;
  torch::Tensor forward_once(const torch::Tensor& inputs) const;

  models::NetworkImpl* model_;
  std::vector<Step> steps_;
  deepl::Precision precision_;
  int onednn_layers_ = 0;
  TestTimeAugmentation tta_;
  mutable bool fallback_ = false;
};

/// Whether this LibTorch can run oneDNN tensors in `dtype` on this CPU (probed once with a tiny
/// convolution: float32 wherever LibTorch has oneDNN, bfloat16 where oneDNN supports the CPU).
bool onednn_available(torch::Dtype dtype);

}  // namespace deepl::eval
