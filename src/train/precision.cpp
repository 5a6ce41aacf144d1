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

void to_channels_last(models::NetworkImpl& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  for (auto& b : model.buffers())
    if (b.dim() == 4) b.set_data(b.contiguous(at::MemoryFormat::ChannelsLast));
}

}  // namespace deepl::train
