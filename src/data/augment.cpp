// The augmentations for pictures of any size and colour: random resized crops and colour jitter,
// each on a whole batch at once.
#include <torch/torch.h>

#include <cmath>

#include "deepl/data/loader.h"

namespace deepl::data {

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// Factors uniform in [max(0, 1 - strength), 1 + strength], one per image, shaped to broadcast.
torch::Tensor jitter_factors(int64_t batch, double strength, torch::Generator& gen) {
  const double lo = std::max(0.0, 1.0 - strength), hi = 1.0 + strength;
  return (lo + (hi - lo) * torch::rand({batch, 1, 1, 1}, gen, torch::kFloat32));
}

// ITU-R 601-2 luma, as torchvision's rgb_to_grayscale.
torch::Tensor gray_of(const torch::Tensor& x) {
  if (x.size(1) == 1) return x;
  return 0.299 * x.narrow(1, 0, 1) + 0.587 * x.narrow(1, 1, 1) + 0.114 * x.narrow(1, 2, 1);
}

}  // namespace

Transform random_resized_crop(double min_scale) {
  return [min_scale](const torch::Tensor& x, torch::Generator& gen) {
    constexpr int64_t kAttempts = 10;
    const int64_t b = x.size(0), height = x.size(2), width = x.size(3);
    const torch::Tensor area = static_cast<double>(height * width) * (min_scale + (1.0 - min_scale) * torch::rand({b, kAttempts}, gen, kF64));
    const double log_lo = std::log(3.0 / 4.0), log_hi = std::log(4.0 / 3.0);
    const torch::Tensor aspect = torch::exp(log_lo + (log_hi - log_lo) * torch::rand({b, kAttempts}, gen, kF64));
    const torch::Tensor w = torch::round(torch::sqrt(area * aspect));
    const torch::Tensor h = torch::round(torch::sqrt(area / aspect));
    const torch::Tensor fits = (w > 0) & (w <= width) & (h > 0) & (h <= height);
    const torch::Tensor first = std::get<1>(fits.to(torch::kInt64).max(1, true));
    const torch::Tensor any = fits.any(1);
    const torch::Tensor cw = torch::where(any, w.gather(1, first).squeeze(1), torch::full({b}, double(width), kF64));
    const torch::Tensor ch = torch::where(any, h.gather(1, first).squeeze(1), torch::full({b}, double(height), kF64));
    const torch::Tensor left = (torch::rand({b}, gen, kF64) * (width - cw + 1)).floor();
    const torch::Tensor top = (torch::rand({b}, gen, kF64) * (height - ch + 1)).floor();
    // The window in grid_sample's normalised coordinates (align_corners false: -1 and 1 are the outer edges).
    torch::Tensor theta = torch::zeros({b, 2, 3}, kF64);
    theta.select(1, 0).select(1, 0).copy_(cw / width);
    theta.select(1, 0).select(1, 2).copy_((2 * left + cw) / width - 1);
    theta.select(1, 1).select(1, 1).copy_(ch / height);
    theta.select(1, 1).select(1, 2).copy_((2 * top + ch) / height - 1);
    const torch::Tensor grid = torch::affine_grid_generator(theta.to(x.scalar_type()), {b, x.size(1), height, width}, false);
    return torch::grid_sampler(x, grid, /*bilinear*/ 0, /*border*/ 1, false);
  };
}

Transform colour_jitter(double brightness, double contrast, double saturation) {
  return [=](const torch::Tensor& x, torch::Generator& gen) {
    const int64_t b = x.size(0);
    torch::Tensor out = x;
    if (brightness > 0) out = (out * jitter_factors(b, brightness, gen)).clamp(0, 255);
    if (contrast > 0) {
      const torch::Tensor mean = gray_of(out).mean({1, 2, 3}, true);
      const torch::Tensor f = jitter_factors(b, contrast, gen);
      out = (f * out + (1 - f) * mean).clamp(0, 255);
    }
    if (saturation > 0 && out.size(1) == 3) {
      const torch::Tensor f = jitter_factors(b, saturation, gen);
      out = (f * out + (1 - f) * gray_of(out)).clamp(0, 255);
    }
    return out;
  };
}

}  // namespace deepl::data
