#pragma once
// Adam and AdamW with the update of each float32 parameter done in one vectorised, multi-threaded
// pass. LibTorch's optimizers make about eight tensor-wide passes per parameter (mul_, add_,
// addcmul_, sqrt, div, add_, addcdiv_); for the MLPs' million-parameter layers that step was a
// quarter of a training step. These do the same arithmetic in the same order (float rounding
// aside), keep the same state (torch::optim::AdamParamState / AdamWParamState, so checkpoints and
// PyTorch interop are unchanged) and are still a torch::optim::Adam / AdamW. Parameters that are
// not dense float32 laid out like their gradient and state take the base optimizer's path.
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

namespace deepl::train {

template <typename Base, typename State, typename Options, bool kDecoupledWeightDecay>
class FusedAdamOptimizer : public Base {
 public:
  using Base::Base;
  torch::Tensor step(torch::optim::Optimizer::LossClosure closure = nullptr) override;
  /// Steps taken on the fused path (the others went through the base optimizer).
  int64_t fused_steps() const { return fused_steps_; }

 private:
  int64_t fused_steps_ = 0;
};

/// Adam: weight decay added to the gradient (L2).
using FusedAdam =
    FusedAdamOptimizer<torch::optim::Adam, torch::optim::AdamParamState, torch::optim::AdamOptions, false>;
/// AdamW: decoupled weight decay.
using FusedAdamW =
    FusedAdamOptimizer<torch::optim::AdamW, torch::optim::AdamWParamState, torch::optim::AdamWOptions, true>;

}  // namespace deepl::train
