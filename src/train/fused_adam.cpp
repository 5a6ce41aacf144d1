#include "deepl/train/fused_adam.h"

#include <ATen/Parallel.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "deepl/core/torch_compat.h"

namespace deepl::train {
namespace {

// One Adam/AdamW update, per element, in LibTorch's order of operations (Adam::step 1.13).
struct Update {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, sqrt_bias_correction2, eps, minus_step_size;
  float l2;  // Adam's weight decay, added to the gradient (0 for AdamW)
};

// Compiled for AVX-512, AVX2 and baseline x86-64, picked at load time (LibTorch's own kernels are
// dispatched the same way); elsewhere the one baseline version.
#if defined(__x86_64__) && defined(__GNUC__)
#define DEEPL_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DEEPL_VECTOR_CLONES
#endif

// With AMSGrad (max_exp_avg_sq not null) the denominator uses the running maximum of the second
// moment; -O3 unswitches the loop on that test, so both versions vectorise.
DEEPL_VECTOR_CLONES void update_range(const Update& u, float* __restrict param, const float* __restrict grad,
                                      float* __restrict exp_avg, float* __restrict exp_avg_sq,
                                      float* __restrict max_exp_avg_sq, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float g = grad[i] + u.l2 * param[i];
    const float m = exp_avg[i] * u.beta1 + u.one_minus_beta1 * g;
    const float v = exp_avg_sq[i] * u.beta2 + u.one_minus_beta2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    float second = v;
    if (max_exp_avg_sq != nullptr) second = max_exp_avg_sq[i] = std::max(max_exp_avg_sq[i], v);
    param[i] += u.minus_step_size * m / (std::sqrt(second) / u.sqrt_bias_correction2 + u.eps);
  }
}

void fused_update(const Update& u, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                  float* max_exp_avg_sq, int64_t n) {
  at::parallel_for(0, n, 1 << 15, [&](int64_t begin, int64_t end) {
    update_range(u, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, begin, end);
  });
}

bool same_dense_layout(const torch::Tensor& a, const torch::Tensor& b) {
  return b.defined() && b.scalar_type() == torch::kFloat32 && b.strides() == a.strides() && b.sizes() == a.sizes();
}

// Every parameter with a gradient is a dense float32 CPU tensor laid out like its gradient and,
// once it has one (a restored checkpoint, a step on the base path), like its state.
template <typename State, typename Options>
bool fusable(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups()) {
    const bool amsgrad = static_cast<Options&>(group.options()).amsgrad();
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      if (!p.device().is_cpu() || p.scalar_type() != torch::kFloat32 || !p.is_non_overlapping_and_dense() ||
          p.grad().is_sparse() || !same_dense_layout(p, p.grad()))
        return false;
      const auto it = optimizer.state().find(compat::optimizer_state_key(p));
      if (it == optimizer.state().end()) continue;
      const auto& s = static_cast<const State&>(*it->second);
      if (!same_dense_layout(p, s.exp_avg()) || !same_dense_layout(p, s.exp_avg_sq()) ||
          (amsgrad && !same_dense_layout(p, s.max_exp_avg_sq())))
        return false;
    }
  }
  return true;
}

template <typename State, typename Options>
void fused_step(torch::optim::Optimizer& optimizer, bool decoupled_weight_decay) {
  torch::NoGradGuard no_grad;
  for (auto& group : optimizer.param_groups()) {
    auto& options = static_cast<Options&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& slot = optimizer.state()[compat::optimizer_state_key(p)];
      if (!slot) {
        auto state = std::make_unique<State>();
        state->step(0);
        state->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        state->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        if (options.amsgrad()) state->max_exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(state);
      }
      auto& state = static_cast<State&>(*slot);
      state.step(state.step() + 1);
      const auto [beta1, beta2] = options.betas();
      const double bias_correction1 = 1 - std::pow(beta1, state.step());
      const double bias_correction2 = 1 - std::pow(beta2, state.step());
      if (decoupled_weight_decay && options.weight_decay() != 0) p.mul_(1 - options.lr() * options.weight_decay());
      const Update u{static_cast<float>(beta1),
                     static_cast<float>(1 - beta1),
                     static_cast<float>(beta2),
                     static_cast<float>(1 - beta2),
                     static_cast<float>(std::sqrt(bias_correction2)),
                     static_cast<float>(options.eps()),
                     static_cast<float>(-options.lr() / bias_correction1),
                     decoupled_weight_decay ? 0.0f : static_cast<float>(options.weight_decay())};
      fused_update(u, p.data_ptr<float>(), p.grad().data_ptr<float>(), state.exp_avg().template data_ptr<float>(),
                   state.exp_avg_sq().template data_ptr<float>(),
                   options.amsgrad() ? state.max_exp_avg_sq().template data_ptr<float>() : nullptr, p.numel());
    }
  }
}

}  // namespace

template <typename Base, typename State, typename Options, bool kDecoupledWeightDecay>
torch::Tensor FusedAdamOptimizer<Base, State, Options, kDecoupledWeightDecay>::step(
    torch::optim::Optimizer::LossClosure closure) {
  if (closure || !fusable<State, Options>(*this)) return Base::step(closure);
  fused_step<State, Options>(*this, kDecoupledWeightDecay);
  ++fused_steps_;
  return {};
}

template class FusedAdamOptimizer<torch::optim::Adam, torch::optim::AdamParamState, torch::optim::AdamOptions, false>;
template class FusedAdamOptimizer<torch::optim::AdamW, torch::optim::AdamWParamState, torch::optim::AdamWOptions, true>;

}  // namespace deepl::train
