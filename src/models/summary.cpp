#include "deepl/models/summary.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "deepl/models/resnet.h"

namespace deepl::models {

namespace {

int64_t layer_flops(torch::nn::Module& layer, const torch::Tensor& in, const torch::Tensor& out) {
  if (auto* conv = layer.as<torch::nn::Conv2d>()) {
    const auto& o = conv->options;
    const int64_t k = o.kernel_size()->at(0) * o.kernel_size()->at(1);
    return 2 * (o.in_channels() / o.groups()) * k * out.numel();
  }
  if (auto* linear = layer.as<torch::nn::Linear>()) return 2 * linear->options.in_features() * out.numel();
  if (layer.as<torch::nn::BatchNorm2d>()) return 2 * out.numel();
  if (layer.as<torch::nn::MaxPool2d>() || layer.as<torch::nn::AvgPool2d>()) return in.numel();
  if (layer.as<torch::nn::Flatten>() || layer.as<torch::nn::Dropout>()) return 0;
  if (auto* block = layer.as<BasicBlock>()) {
    // Both 3x3 convolutions and a 1x1 shortcut produce the block's output shape; plus two batch
    // norms, the addition and the ReLUs, element-wise.
    const int64_t in = block->options.in_channels(), out_channels = block->options.out_channels();
    int64_t flops = 2 * 9 * (in + out_channels) * out.numel() + 6 * out.numel();
    if (block->downsample) flops += 2 * in * out.numel();
    return flops;
  }
  return out.numel();  // element-wise activations
}

}  // namespace

ModelSummary summarize(NetworkImpl& net, const std::vector<int64_t>& input_shape) {
  torch::InferenceMode guard;
  const bool was_training = net.is_training();
  net.eval();
  ModelSummary summary;
  std::vector<int64_t> shape = {1};
  shape.insert(shape.end(), input_shape.begin(), input_shape.end());
  torch::Tensor x = torch::zeros(shape);
  if (net.stages().empty()) {  // a TorchScript module: its top-level submodules, then the whole forward
    for (const auto& child : net.named_children()) {
      LayerSummary layer{child.key(), "TorchScript submodule", {}, 0, 0};
      for (const auto& p : child.value()->parameters()) layer.parameters += p.numel();
      summary.layers.push_back(layer);
    }
    x = net.forward(x);
    summary.layers.push_back({"forward", "TorchScript forward", {x.sizes().begin() + 1, x.sizes().end()}, 0, 0});
  }
  for (const auto& stage : net.stages()) {
    const auto children = stage.layers->named_children();
    size_t index = 0;
    for (auto module : *stage.layers) {
      const auto& child = children[index++];
      const torch::Tensor in = x;
      x = module.forward(in);
      LayerSummary layer;
      layer.name = stage.name.empty() ? child.key() : stage.name + "." + child.key();
      layer.kind = child.value()->name();
      layer.output_shape.assign(x.sizes().begin() + 1, x.sizes().end());
      for (const auto& p : child.value()->parameters()) layer.parameters += p.numel();
      layer.flops = layer_flops(*child.value(), in, x);
      summary.flops += layer.flops;
      summary.layers.push_back(layer);
    }
  }
  for (const auto& p : net.parameters()) {
    summary.parameters += p.numel();
    if (p.requires_grad()) summary.trainable_parameters += p.numel();
  }
  net.train(was_training);
  return summary;
}

std::string format_summary(const ModelSummary& s) {
  std::string out = fmt::format("{:<16} {:<28} {:<18} {:>12} {:>14}\n", "layer", "kind", "output", "params", "FLOPs");
  for (const auto& l : s.layers) {
    out += fmt::format("{:<16} {:<28} {:<18} {:>12} {:>14}\n", l.name, l.kind, fmt::format("{}", fmt::join(l.output_shape, "x")),
                       l.parameters, l.flops);
  }
  out += fmt::format("total: {} parameters ({} trainable), {:.3f} MFLOPs forward per example\n", s.parameters,
                     s.trainable_parameters, static_cast<double>(s.flops) / 1e6);
  return out;
}

}  // namespace deepl::models
