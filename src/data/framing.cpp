#include "deepl/data/framing.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "deepl/core/error.h"
#include "deepl/data/loader.h"

namespace deepl::data {

namespace F = torch::nn::functional;

namespace {

constexpr int64_t kDigitBox = 20;          // MNIST digits fit a 20x20 box ...
constexpr double kDigitCentre = 14.0;      // ... with their centre of mass here (pixel indices; measured on the set)
constexpr double kInkThreshold = 0.2;      // after stretching, fainter pixels are background
constexpr double kSharpening = 1.0;        // products: unsharp-mask amount
constexpr double kMinimumContrast = 0.08;  // a brightest pixel closer than this to the background: a blank picture

torch::Tensor border_pixels(const torch::Tensor& gray) {
  const int64_t h = gray.size(0), w = gray.size(1);
  return torch::cat({gray[0], gray[h - 1], gray.select(1, 0), gray.select(1, w - 1)});
}

torch::Tensor resize(const torch::Tensor& chw, int64_t height, int64_t width) {
  return resize_images(chw.unsqueeze(0), height, width).squeeze(0);
}

// Background to 0 and the brightest ink to 1.
torch::Tensor stretch_contrast(const torch::Tensor& chw) {
  const torch::Tensor gray = chw.mean(0);
  const double background = border_pixels(gray).median().item<double>();
  const double peak = gray.max().item<double>();
  if (peak - background < kMinimumContrast) throw_data("the picture is blank: nothing stands out from its background");
  return ((chw - background) / (peak - background)).clamp(0, 1);
}

// Pixels of the object; fainter ones are paper grain or compression noise.
torch::Tensor ink_mask(const torch::Tensor& chw) { return chw.mean(0) >= kInkThreshold; }

// The image cut to the rows and columns that hold ink.
torch::Tensor crop_to_ink(const torch::Tensor& chw) {
  const torch::Tensor ink = ink_mask(chw);
  const torch::Tensor rows = torch::nonzero(ink.any(1)).flatten(), cols = torch::nonzero(ink.any(0)).flatten();
  const int64_t top = rows.min().item<int64_t>(), bottom = rows.max().item<int64_t>();
  const int64_t left = cols.min().item<int64_t>(), right = cols.max().item<int64_t>();
  return chw.slice(1, top, bottom + 1).slice(2, left, right + 1);
}

// Scales so the longer side is `box`, keeping the aspect ratio.
torch::Tensor fit_box(const torch::Tensor& chw, int64_t box) {
  const double scale = static_cast<double>(box) / static_cast<double>(std::max(chw.size(1), chw.size(2)));
  const auto side = [&](int64_t n) { return std::clamp<int64_t>(std::lround(static_cast<double>(n) * scale), 1, box); };
  return resize(chw, side(chw.size(1)), side(chw.size(2)));
}

std::pair<double, double> centre_of_mass(const torch::Tensor& chw) {
  const torch::Tensor mass = chw.mean(0);
  const double total = mass.sum().item<double>();
  const torch::Tensor ys = torch::arange(mass.size(0), mass.options()),
                      xs = torch::arange(mass.size(1), mass.options());
  return {(mass.sum(1) * ys).sum().item<double>() / total, (mass.sum(0) * xs).sum().item<double>() / total};
}

torch::Tensor place(const torch::Tensor& chw, int64_t top, int64_t left, int64_t height, int64_t width) {
  torch::Tensor canvas = torch::zeros({chw.size(0), height, width}, chw.options());
  top = std::clamp<int64_t>(top, 0, height - chw.size(1));
  left = std::clamp<int64_t>(left, 0, width - chw.size(2));
  canvas.slice(1, top, top + chw.size(1)).slice(2, left, left + chw.size(2)).copy_(chw);
  return canvas;
}

// MNIST's digits sit on pure black: the faint pixels are cleared before cropping.
torch::Tensor frame_digit(const torch::Tensor& stretched, int64_t height, int64_t width) {
  const double scale_to_input = static_cast<double>(std::min(height, width)) / 28.0;
  const torch::Tensor ink_only = stretched * ink_mask(stretched);
  const torch::Tensor digit = fit_box(crop_to_ink(ink_only), std::lround(kDigitBox * scale_to_input));
  const auto [cy, cx] = centre_of_mass(digit);
  return place(digit, std::lround(kDigitCentre * height / 28.0 - cy), std::lround(kDigitCentre * width / 28.0 - cx),
               height, width);
}

// Fashion-MNIST sharpened its products after shrinking them: an unsharp mask (3x3 binomial blur).
torch::Tensor sharpen(const torch::Tensor& chw) {
  const torch::Tensor k1 = torch::tensor({1.0f, 2.0f, 1.0f}, chw.options()) / 4.0;
  const torch::Tensor kernel = (k1.unsqueeze(1) * k1.unsqueeze(0)).expand({chw.size(0), 1, 3, 3}).contiguous();
  const torch::Tensor padded = F::pad(chw.unsqueeze(0), F::PadFuncOptions({1, 1, 1, 1}).mode(torch::kReplicate));
  const torch::Tensor blurred = F::conv2d(padded, kernel, F::Conv2dFuncOptions().groups(chw.size(0))).squeeze(0);
  return (chw + kSharpening * (chw - blurred)).clamp(0, 1);
}

// Fashion-MNIST's products keep their texture: only the edges are trimmed.
torch::Tensor frame_product(const torch::Tensor& stretched, int64_t height, int64_t width) {
  const torch::Tensor product = sharpen(fit_box(crop_to_ink(stretched), std::min(height, width)));
  return place(product, (height - product.size(1)) / 2, (width - product.size(2)) / 2, height, width);
}

}  // namespace

Framing framing_for_dataset(const std::string& dataset) {
  if (dataset == "mnist") return Framing::kDigit;
  if (dataset == "fashion-mnist") return Framing::kProduct;
  return Framing::kResize;
}

Invert parse_invert(const std::string& value, const std::string& option) {
  if (value == "auto") return Invert::kAuto;
  if (value == "yes") return Invert::kYes;
  if (value == "no") return Invert::kNo;
  throw_usage(option + ": expected auto, yes or no, got \"" + value + "\"");
}

torch::Tensor frame_image(const torch::Tensor& image, const FramingOptions& options) {
  if (image.dim() != 3 || image.scalar_type() != torch::kUInt8 || image.size(1) == 0 || image.size(2) == 0) {
    throw_usage("frame_image: expected a non-empty uint8 image [C, H, W]");
  }
  torch::Tensor x = image.to(torch::kFloat32) / 255.0;
  const bool invert = options.invert == Invert::kYes ||
                      (options.invert == Invert::kAuto && border_pixels(x.mean(0)).median().item<double>() > 0.5);
  if (invert) x = 1.0 - x;
  switch (options.framing) {
    case Framing::kDigit:
      x = frame_digit(stretch_contrast(x), options.height, options.width);
      break;
    case Framing::kProduct:
      x = frame_product(stretch_contrast(x), options.height, options.width);
      break;
    case Framing::kResize:
      x = resize(x, options.height, options.width);
      break;
  }
  return (x * 255.0).round().clamp(0, 255).to(torch::kUInt8);
}

}  // namespace deepl::data
