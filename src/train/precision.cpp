#include "deepl/train/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "deepl/models/network.h"

namespace deepl::train {

torch::Tensor Precision::prepare(const torch::Tensor& inputs) const {
  if (channels_last && inputs.dim() == 4) return inputs.contiguous(at::MemoryFormat::ChannelsLast);
  return inputs;
}

std::string Precision::describe() const {
  std::string s = bf16 ? "bf16 autocast" : "fp32";
  if (channels_last) s += ", channels-last";
  return s;
}

AutocastGuard::AutocastGuard(bool bf16) : active_(bf16) {
  if (!active_) return;
  previous_ = at::autocast::is_cpu_enabled();
  at::autocast::set_cpu_enabled(true);
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_cpu_enabled(previous_);
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

void to_channels_last(models::NetworkImpl& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.parameters())
    if (p.dim() == 4) p.set_data(with_channels_last_strides(p));
  for (auto& b : model.buffers())
    if (b.dim() == 4) b.set_data(with_channels_last_strides(b));
}

}  // namespace deepl::train
