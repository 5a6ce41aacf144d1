#include "deepl/train/onednn_check.h"

#include <ATen/Context.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <limits>

#include "deepl/models/network.h"

namespace deepl::train {
namespace {

using torch::Tensor;

// Deterministic values in [-1, 1] that draw nothing from LibTorch's random generator.
Tensor pattern(at::IntArrayRef shape, double phase) {
  int64_t n = 1;
  for (const int64_t d : shape) n *= d;
  return torch::sin(torch::arange(n, torch::kFloat64) * 0.7371 + phase).reshape(shape);
}

// What the check changes, to put back exactly (set_data keeps the tensors the model hands out).
struct ModelState {
  std::vector<Tensor> parameters, gradients, buffers;
  bool training = true;

  explicit ModelState(models::NetworkImpl& model) : training(model.is_training()) {
    for (const auto& p : model.parameters()) {
      parameters.push_back(p.detach().clone());
      gradients.push_back(p.grad().defined() ? p.grad().clone() : Tensor());
    }
    for (const auto& b : model.buffers()) buffers.push_back(b.detach().clone());
  }

  void restore(models::NetworkImpl& model) const {
    torch::NoGradGuard no_grad;
    auto params = model.parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      params[i].set_data(parameters[i]);
      params[i].mutable_grad() = gradients[i];
    }
    auto bufs = model.buffers();
    for (size_t i = 0; i < bufs.size(); ++i) bufs[i].set_data(buffers[i]);
    model.train(training);
  }
};

// Gradients of sum(logits * pattern) per parameter (undefined for frozen ones), in float64.
std::vector<Tensor> gradients(models::NetworkImpl& model, const std::vector<Tensor>& inputs) {
  torch::AutoGradMode grad_mode(true);
  for (auto& p : model.parameters()) p.mutable_grad() = Tensor();
  for (const Tensor& input : inputs) {
    const Tensor logits = model.forward(input);
    (logits.to(torch::kFloat64) * pattern(logits.sizes(), 1.0)).sum().backward();
  }
  std::vector<Tensor> out;
  for (const auto& p : model.parameters()) out.push_back(p.grad().defined() ? p.grad().to(torch::kFloat64) : Tensor());
  return out;
}

// |a - b| / |b| (Frobenius norms); NaN and infinity count as total disagreement.
double relative_error(const Tensor& a, const Tensor& reference) {
  if (!torch::isfinite(a).all().item<bool>()) return std::numeric_limits<double>::infinity();
  return (a - reference).norm().item<double>() / std::max(reference.norm().item<double>(), 1e-12);
}

}  // namespace

std::string GradientCheck::describe() const {
  return ok() ? fmt::format("largest relative gradient error {:.1e} ({})", error, parameter)
              : fmt::format("{}'s gradient off by {:.0f}%", parameter, std::min(error, 99.99) * 100);
}

GradientCheck check_gradients(models::NetworkImpl& model, bool channels_last, int64_t channels,
                              const std::vector<std::array<int64_t, 2>>& sizes) {
  const ModelState state(model);
  model.eval();  // no dropout draws, no running statistics updated
  std::vector<Tensor> inputs, references;
  for (const auto& [height, width] : sizes) {
    Tensor images = pattern({2, channels, height, width}, 0.0).to(torch::kFloat32);
    if (channels_last) images = images.contiguous(at::MemoryFormat::ChannelsLast);
    inputs.push_back(images);
    references.push_back(images.to(torch::kFloat64));
  }
  std::vector<Tensor> got, want;
  try {
    got = gradients(model, inputs);
    model.to(torch::kFloat64);
    want = gradients(model, references);
  } catch (...) {
    state.restore(model);
    throw;
  }
  state.restore(model);

  GradientCheck check;
  const auto names = model.named_parameters().keys();
  for (size_t i = 0; i < got.size(); ++i) {
    if (!want[i].defined()) continue;
    const double error = relative_error(got[i], want[i]);
    if (error > check.error || check.parameter.empty()) {
      check.error = error;
      check.parameter = names[i];
    }
  }
  return check;
}

bool onednn_enabled() { return at::globalContext().userEnabledMkldnn(); }

void set_onednn_enabled(bool enabled) { at::globalContext().setUserEnabledMkldnn(enabled); }

}  // namespace deepl::train
