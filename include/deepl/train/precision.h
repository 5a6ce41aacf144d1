#pragma once
// Numeric format of training and evaluation on CPU: float32, or bfloat16 autocast (float32
// master weights, matmuls and convolutions in bfloat16) and/or channels-last memory layout.
#include <torch/types.h>

#include <string>

namespace deepl::models {
class NetworkImpl;
}

namespace deepl::train {

struct Precision {
  bool bf16 = false;           // train.precision == "bf16"
  bool channels_last = false;  // train.channels_last

  /// Inputs in the layout the model expects.
  torch::Tensor prepare(const torch::Tensor& inputs) const;
  std::string describe() const;
};

/// Enables CPU bfloat16 autocast for its lifetime when asked (RAII; restores the previous state).
class AutocastGuard {
 public:
  explicit AutocastGuard(bool bf16);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_;
  bool previous_ = false;
};

/// Converts every 4-D parameter and buffer to channels-last (call before creating the optimizer;
/// LibTorch 1.13's C++ Module has no to(MemoryFormat)).
void to_channels_last(models::NetworkImpl& model);

}  // namespace deepl::train
