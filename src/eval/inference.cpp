#include "deepl/eval/inference.h"

#include <ATen/Context.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "deepl/core/device.h"
#include "deepl/core/torch_compat.h"
#include "deepl/models/resnet.h"

namespace deepl::eval {
namespace {

using torch::Tensor;

std::vector<int64_t> to_vector(at::IntArrayRef values) { return values.vec(); }

bool all_ones(at::IntArrayRef values) {
  return std::all_of(values.begin(), values.end(), [](int64_t v) { return v == 1; });
}

bool probe_onednn(torch::Dtype dtype) {
  try {
    torch::InferenceMode guard;
    const Tensor x = torch::ones({1, 1, 4, 4}).to_mkldnn(dtype);
    const Tensor w = at::mkldnn_reorder_conv2d_weight(torch::ones({2, 1, 3, 3}).to_mkldnn(dtype), {0, 0}, {1, 1}, {1, 1}, 1);
    // 2 channels x 2x2 outputs, each the sum of nine ones.
    return at::mkldnn_convolution(x, w, {}, {0, 0}, {1, 1}, {1, 1}, 1).to_dense().sum().item<float>() == 72.0f;
  } catch (const std::exception&) {  // c10::Error, or oneDNN's own error when it lacks the kernel (ONEDNN_MAX_CPU_ISA)
    return false;
  }
}

// Convolution weight and bias with an inference-mode batch norm folded in:
// w' = w * gamma / sqrt(var + eps), b' = (b - mean) * gamma / sqrt(var + eps) + beta.
std::pair<Tensor, Tensor> fold_batch_norm(const Tensor& weight, const Tensor& bias, torch::nn::BatchNorm2dImpl& bn) {
  const Tensor scale = bn.weight.defined() ? bn.weight / torch::sqrt(bn.running_var + bn.options.eps())
                                           : 1.0 / torch::sqrt(bn.running_var + bn.options.eps());
  const Tensor shift = bn.bias.defined() ? bn.bias : torch::zeros_like(bn.running_mean);
  const Tensor b = bias.defined() ? bias : torch::zeros_like(bn.running_mean);
  return {weight * scale.view({-1, 1, 1, 1}), (b - bn.running_mean) * scale + shift};
}

bool folds_into_convolution(torch::nn::BatchNorm2dImpl* bn) {
  return bn != nullptr && bn->options.track_running_stats() && bn->running_mean.defined();
}

bool runs_on_onednn(torch::nn::Conv2dImpl* conv) {
  return conv != nullptr && compat::variant_get_if<torch::ExpandingArray<2>>(conv->options.padding()) != nullptr &&
         compat::variant_holds<torch::enumtype::kZeros>(conv->options.padding_mode());
}

using OneDnnOp = std::function<Tensor(const Tensor&)>;

// `conv` (padding given as numbers, zero padding) with the batch norm `bn` folded in when there is
// one, its weights reordered once for oneDNN: a function of oneDNN tensors.
OneDnnOp onednn_convolution(torch::nn::Conv2dImpl& conv, torch::nn::BatchNorm2dImpl* bn, torch::Dtype dtype) {
  Tensor weight = conv.weight.detach(), bias = conv.options.bias() ? conv.bias.detach() : Tensor();
  if (bn != nullptr) std::tie(weight, bias) = fold_batch_norm(weight, bias, *bn);
  const auto pad = to_vector(**compat::variant_get_if<torch::ExpandingArray<2>>(conv.options.padding()));
  const auto stride = to_vector(*conv.options.stride()), dilation = to_vector(*conv.options.dilation());
  const int64_t groups = conv.options.groups();
  const Tensor packed =
      at::mkldnn_reorder_conv2d_weight(weight.contiguous().to_mkldnn(dtype), pad, stride, dilation, groups);
  const Tensor packed_bias = bias.defined() ? bias.to(dtype).contiguous().to_mkldnn() : Tensor();
  return [=](const Tensor& x) { return at::mkldnn_convolution(x, packed, packed_bias, pad, stride, dilation, groups); };
}

// A post-activation basic block whose batch norms all fold into its convolutions, as one function
// of oneDNN tensors: relu(conv2'(relu(conv1' x)) + shortcut' x). Null when it does not qualify.
// The sum runs on dense tensors: oneDNN 3.6 (Debian 13) dies of an integer division by zero adding
// two plain-layout fp32 oneDNN tensors on some CPUs (a 2-vCPU AMD family 26 VM), a signal no probe
// could catch; the block's output is dense and the next oneDNN step converts it back.
OneDnnOp onednn_basic_block(models::BasicBlockImpl& block, torch::Dtype dtype, int* convolutions) {
  if (block.options.preact() || !runs_on_onednn(block.conv1.get()) || !runs_on_onednn(block.conv2.get()) ||
      !folds_into_convolution(block.bn1.get()) || !folds_into_convolution(block.bn2.get())) {
    return nullptr;
  }
  OneDnnOp shortcut = [](const Tensor& x) { return x; };
  if (block.downsample) {
    auto* conv = block.downsample[0]->as<torch::nn::Conv2d>();
    auto* bn = block.downsample->size() > 1 ? block.downsample[1]->as<torch::nn::BatchNorm2d>() : nullptr;
    if (!runs_on_onednn(conv) || !folds_into_convolution(bn)) return nullptr;
    shortcut = onednn_convolution(*conv, bn, dtype);
    ++*convolutions;
  }
  const OneDnnOp conv1 = onednn_convolution(*block.conv1, block.bn1.get(), dtype);
  const OneDnnOp conv2 = onednn_convolution(*block.conv2, block.bn2.get(), dtype);
  *convolutions += 2;
  return [=](const Tensor& x) {
    Tensor sum = conv2(torch::relu(conv1(x))).to_dense();
    sum += shortcut(x).to_dense();
    return torch::relu_(sum);
  };
}

// Images [N, C, H, W] moved by (dy, dx) pixels: out[y][x] = in[y + dy][x + dx], the edge rows and
// columns repeated where that falls outside.
Tensor shifted(const Tensor& images, int64_t dy, int64_t dx) {
  namespace F = torch::nn::functional;
  const int64_t height = images.size(2), width = images.size(3);
  const Tensor padded = F::pad(images, F::PadFuncOptions({1, 1, 1, 1}).mode(torch::kReplicate));
  return padded.narrow(2, 1 + dy, height).narrow(3, 1 + dx, width).contiguous();
}

}  // namespace

bool onednn_available(torch::Dtype dtype) {
  if (!at::hasMKLDNN() || !at::globalContext().userEnabledMkldnn()) return false;
  static const bool float32 = probe_onednn(torch::kFloat32);
  static const bool bfloat16 = probe_onednn(torch::kBFloat16);
  return dtype == torch::kBFloat16 ? bfloat16 : float32;
}

InferencePlan::InferencePlan(models::NetworkImpl& model, const deepl::Precision& precision, TestTimeAugmentation tta)
    : model_(&model), precision_(precision), tta_(tta) {
  torch::NoGradGuard no_grad;
  for (const auto& stage : model.stages()) add_layers(stage.layers);
  fallback_ = model.stages().empty();  // a TorchScript module: only its own forward knows its layers
}

void InferencePlan::add_layers(torch::nn::Sequential layers) {
  const torch::Dtype dtype = precision_.bf16 ? torch::kBFloat16 : torch::kFloat32;
  const bool onednn = device_of(*model_).is_cpu() && onednn_available(dtype);
  std::vector<torch::nn::AnyModule> modules(layers->begin(), layers->end());
  for (size_t i = 0; i < modules.size(); ++i) {
    torch::nn::Module& layer = *modules[i].ptr();
    if (layer.as<torch::nn::Dropout>() || layer.as<torch::nn::Dropout2d>()) continue;  // identity in eval
    auto* conv = layer.as<torch::nn::Conv2d>();
    if (onednn && runs_on_onednn(conv)) {
      auto* bn = i + 1 < modules.size() ? modules[i + 1].ptr()->as<torch::nn::BatchNorm2d>() : nullptr;
      if (!folds_into_convolution(bn)) bn = nullptr;
      steps_.push_back({Layout::kOneDnn, onednn_convolution(*conv, bn, dtype)});
      if (bn != nullptr) ++i;
      ++onednn_layers_;
      continue;
    }
    auto* block = layer.as<models::BasicBlock>();
    if (OneDnnOp run = onednn && block ? onednn_basic_block(*block, dtype, &onednn_layers_) : nullptr) {
      steps_.push_back({Layout::kOneDnn, std::move(run)});
      continue;
    }
    if (layer.as<torch::nn::ReLU>()) {
      steps_.push_back({Layout::kEither, [](const Tensor& x) { return torch::relu(x); }});
      continue;
    }
    const auto* max_pool = layer.as<torch::nn::MaxPool2d>();
    if (onednn && max_pool && all_ones(*max_pool->options.dilation())) {
      const auto o = max_pool->options;
      steps_.push_back({Layout::kOneDnn, [o](const Tensor& x) {
                          return torch::max_pool2d(x, *o.kernel_size(), *o.stride(), *o.padding(), 1, o.ceil_mode());
                        }});
      ++onednn_layers_;
      continue;
    }
    const auto* avg_pool = layer.as<torch::nn::AvgPool2d>();
    if (onednn && avg_pool && !avg_pool->options.divisor_override()) {
      const auto o = avg_pool->options;
      steps_.push_back({Layout::kOneDnn, [o](const Tensor& x) {
                          return torch::avg_pool2d(x, *o.kernel_size(), *o.stride(), *o.padding(), o.ceil_mode(),
                                                   o.count_include_pad());
                        }});
      ++onednn_layers_;
      continue;
    }
    torch::nn::AnyModule any = modules[i];  // shares the layer: runs its own forward
    steps_.push_back({Layout::kDense, [any](const Tensor& x) mutable { return any.forward(x); }});
  }
}

Tensor InferencePlan::forward(const Tensor& inputs) const {
  std::vector<Tensor> views{inputs};
  if (tta_.shift) {
    for (const auto& [dy, dx] : {std::pair{-1, 0}, {1, 0}, {0, -1}, {0, 1}}) views.push_back(shifted(inputs, dy, dx));
  }
  if (tta_.hflip) {
    const size_t unmirrored = views.size();
    for (size_t i = 0; i < unmirrored; ++i) views.push_back(views[i].flip({3}));
  }
  Tensor sum = forward_once(views[0]);
  for (size_t i = 1; i < views.size(); ++i) sum += forward_once(views[i]);
  return views.size() == 1 ? sum : sum / static_cast<double>(views.size());
}

Tensor InferencePlan::forward_once(const Tensor& inputs) const {
  deepl::AutocastGuard autocast(precision_.bf16);  // for the dense layers; oneDNN steps are typed already
  if (!fallback_) {
    try {
      return run_steps(precision_.prepare(inputs));
    } catch (const c10::Error& e) {
      spdlog::warn("fast inference path failed, evaluating with the model's own forward: {}", e.what_without_backtrace());
      fallback_ = true;
    }
  }
  return model_->forward(precision_.prepare(inputs)).to(torch::kFloat32);
}

Tensor InferencePlan::run_steps(Tensor x) const {
  const torch::Dtype dtype = precision_.bf16 ? torch::kBFloat16 : torch::kFloat32;
  for (const Step& step : steps_) {
    if (step.layout == Layout::kOneDnn && !x.is_mkldnn()) x = x.to(dtype).contiguous().to_mkldnn();
    if (step.layout == Layout::kDense && x.is_mkldnn()) x = x.to_dense();
    x = step.run(x);
  }
  if (x.is_mkldnn()) x = x.to_dense();
  return x.to(torch::kFloat32);
}

}  // namespace deepl::eval
