#pragma once
// Adam and AdamW with the update of each float32 parameter done in one pass over memory. LibTorch's
// optimizers make about eight tensor-wide passes per parameter (mul_, add_, addcmul_, sqrt, div,
// add_, addcdiv_), each reading and writing whole tensors: for the MLPs' million-parameter layers
// the optimizer step was memory-bound and a large part of a training step. These do the same
// arithmetic in the same order, keep the same state (torch::optim::AdamParamState /
// AdamWParamState, so checkpoints and PyTorch interop are unchanged) and are still an
// torch::optim::Adam / AdamW. Parameters that are not dense contiguous float32 take the base path.
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

namespace deepl::train {

class FusedAdam : public torch::optim::Adam {
 public:
  using torch::optim::Adam::Adam;
  torch::Tensor step(LossClosure closure = nullptr) override;
  /// Steps taken on the fused path (the others went through torch::optim::Adam).
  int64_t fused_steps() const { return fused_steps_; }

 private:
  int64_t fused_steps_ = 0;
};

class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  torch::Tensor step(LossClosure closure = nullptr) override;
  /// Steps taken on the fused path (the others went through torch::optim::AdamW).
  int64_t fused_steps() const { return fused_steps_; }

 private:
  int64_t fused_steps_ = 0;
};

}  // namespace deepl::train
