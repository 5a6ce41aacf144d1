#pragma once
// Numeric format of training and evaluation on CPU: float32, or bfloat16 autocast (float32
// master weights, matmuls and convolutions in bfloat16) and/or channels-last memory layout.
#include <torch/types.h>

#include <optional>
#include <string>

namespace torch::nn {
class Module;
}

namespace deepl {

struct CpuInfo;

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

/// Resolves train.precision ("auto", "fp32", "bf16") and train.channels_last (nullopt for "auto",
/// true, false) for `cpu`: "auto" is bf16 autocast only where the CPU runs bf16 natively, and channels-last
/// only with bf16 (where it was measured to help; in fp32 it helped on one CPU and hurt on another).
Precision resolve_precision(const std::string& precision, std::optional<bool> channels_last, const CpuInfo& cpu);
/// A string layout ("auto") would convert to `true`: spell "auto" as std::nullopt.
Precision resolve_precision(const std::string& precision, const char* channels_last, const CpuInfo& cpu) = delete;

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
void to_channels_last(torch::nn::Module& model);

}  // namespace deepl
