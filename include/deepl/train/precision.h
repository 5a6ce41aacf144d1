#pragma once
// Numeric format of training and evaluation on CPU: float32, or bfloat16 autocast (float32
// master weights, matmuls and convolutions in bfloat16) and/or channels-last memory layout.
#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

#include <string>

namespace deepl {
struct CpuInfo;
}
namespace deepl::models {
class NetworkImpl;
}

namespace deepl::train {

struct Precision {
  bool bf16 = false;
  bool channels_last = false;
  std::string reason;         // why, when chosen by "auto" or against the CPU: "auto: CPU has no native bf16"
  bool slow_on_this_cpu = false;  // bf16 asked for explicitly on a CPU without native bf16
  std::string layout_reason;      // "auto: with bf16" when channels-last was left to "auto"

  /// Inputs in the layout the model expects.
  torch::Tensor prepare(const torch::Tensor& inputs) const;
  /// The format alone: "fp32", "bf16 autocast, channels-last".
  std::string describe() const;
  /// The format and why, each reason after its choice:
  /// "bf16 autocast (auto: CPU has native bf16 (avx512_core_amx)), channels-last (auto: with bf16)".
  std::string explain() const;
};

/// Resolves train.precision ("auto", "fp32", "bf16") and train.channels_last ("auto", true, false)
/// for `cpu`: "auto" is bf16 autocast only where the CPU runs bf16 natively, and channels-last
/// only with bf16 (where it was measured to help; in fp32 it helped on one CPU and hurt on another).
Precision resolve_precision(const std::string& precision, const nlohmann::json& channels_last, const CpuInfo& cpu);

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
