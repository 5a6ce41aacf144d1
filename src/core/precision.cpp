#include "deepl/core/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "deepl/core/cpu.h"
#include "deepl/core/torch_compat.h"

namespace deepl {

torch::Tensor Precision::prepare(const torch::Tensor& inputs) const {
  if (channels_last && inputs.dim() == 4) return inputs.contiguous(at::MemoryFormat::ChannelsLast);
  return inputs;
}

namespace {

std::string arithmetic(const Precision& p) { return p.bf16 ? "bf16 autocast" : "fp32"; }

std::string with_reason(const std::string& what, const std::string& reason) {
  return reason.empty() ? what : what + " (" + reason + ")";
}

}  // namespace

std::string Precision::describe() const { return arithmetic(*this) + (channels_last ? ", channels-last" : ""); }

std::string Precision::explain() const {
  std::string s = with_reason(arithmetic(*this), reason);
  if (channels_last) s += ", " + with_reason("channels-last", layout_reason);
  return s;
}

Precision resolve_precision(const std::string& precision, std::optional<bool> channels_last, const CpuInfo& cpu) {
  Precision p;
  const std::string cpu_kind = cpu.native_bf16() ? "CPU has native bf16 (" + cpu.isa_level() + ")" : "CPU has no native bf16";
  if (precision == "auto") {
    p.bf16 = cpu.native_bf16();
    p.reason = "auto: " + cpu_kind;
  } else {
    p.bf16 = precision == "bf16";
    p.slow_on_this_cpu = p.bf16 && !cpu.native_bf16();
    if (p.slow_on_this_cpu) p.reason = "asked for; " + cpu_kind + ", so much slower than fp32 here";
  }
  if (channels_last) {
    p.channels_last = *channels_last;
  } else {
    p.channels_last = p.bf16;
    p.layout_reason = "auto: with bf16";
  }
  return p;
}

AutocastGuard::AutocastGuard(bool bf16) : active_(bf16) {
  if (!active_) return;
  previous_ = compat::cpu_autocast_enabled();
  compat::set_cpu_autocast_enabled(true);
  compat::set_cpu_autocast_dtype(at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  compat::set_cpu_autocast_enabled(previous_);
}

namespace {

// Like Python's module.to(memory_format=torch.channels_last). contiguous(ChannelsLast) is not
// enough: a conv weight with one input channel ([out, 1, kh, kw]) already counts as channels-last
// contiguous, so it would keep NCHW strides, oneDNN would then pick the NCHW path for that
// convolution, and every later layer would pay for layout conversions (2-7x slower ReLU backward).
torch::Tensor with_channels_last_strides(const torch::Tensor& t) {
  return t.to(t.dtype(), /*non_blocking=*/false, /*copy=*/false, at::MemoryFormat::ChannelsLast);
}

}  // namespace

void to_channels_last(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.parameters())
    if (p.dim() == 4) p.set_data(with_channels_last_strides(p));
  for (auto& b : model.buffers())
    if (b.dim() == 4) b.set_data(with_channels_last_strides(b));
}

}  // namespace deepl
