#pragma once
// A check of a model's gradients against float64 before training. LibTorch 2.6 with oneDNN 3.6
// (Debian 13) was measured computing wrong convolution results on an AVX512_BF16 EPYC: input
// gradients of float32 convolutions with 4 or 8 output channels in NCHW layout (relative errors of
// 0.6 to 1, or NaN) and bf16 outputs with 4 or 8 channels; in a process that had run those, a
// channels-last net's gradients were 100x off. Training goes on without an error, so only a
// comparison finds it.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace deepl::models {
class NetworkImpl;
}

namespace deepl::train {

struct GradientCheck {
  double error = 0;          // the largest |g - g64| / |g64| over the parameters (infinite for NaN)
  std::string parameter;     // whose it is
  static constexpr double kTolerance = 1e-3;  // sound kernels: 2.3e-7 to 6.4e-7, shipped experiments
  bool ok() const { return error <= kTolerance; }
  /// "layer1.0.conv1.weight's gradient off by 82%", or the largest error and whose when ok.
  std::string describe() const;
};

/// Runs `model` forward and backward once in float32 on two patterned images of each size (height,
/// width), in the given layout and eval mode, and again in float64, where LibTorch uses its own
/// kernels (oneDNN has none for float64), and compares every parameter's gradient. Always float32:
/// bf16 rounding alone moves a first layer's gradient by up to 15% (measured on Debian 12), too much
/// to tell a wrong kernel from rounding, and the kernels measured wrong above are wrong in float32
/// too. Leaves the model's weights, buffers, gradients and mode as they were and draws no random
/// numbers.
GradientCheck check_gradients(models::NetworkImpl& model, bool channels_last, int64_t channels,
                              const std::vector<std::array<int64_t, 2>>& sizes);

/// Whether LibTorch may use oneDNN (MKL-DNN) kernels in this process.
bool onednn_enabled();

/// Switches LibTorch's oneDNN kernels on or off for the rest of the process; off, convolutions run on
/// LibTorch's own kernels (slower) and the inference plan runs eagerly.
void set_onednn_enabled(bool enabled);

}  // namespace deepl::train
