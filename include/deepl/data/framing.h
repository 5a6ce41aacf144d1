#pragma once
// Bringing a person's picture to what a model was trained on. MNIST's digits are light on dark,
// cropped to their bounding box, scaled to fit 20x20 keeping the aspect ratio, and centred by their
// centre of mass in 28x28 (LeCun et al.); Fashion-MNIST's products are trimmed, scaled so the longer
// edge is 28 and centred (Xiao et al.). frame_image does the same to any decoded image.
#include <torch/types.h>

#include <string>

namespace deepl::data {

enum class Invert { kAuto, kYes, kNo };
enum class Framing {
  kDigit,    // MNIST: fit 20x20, centre of mass at the centre of 28x28
  kProduct,  // Fashion-MNIST: longer edge to the full size, bounding box centred
  kResize,   // anything else: scale the whole image to the input size
};

struct FramingOptions {
  Framing framing = Framing::kResize;
  Invert invert = Invert::kAuto;  // auto: invert when the border is light (dark-on-light photos)
  int64_t height = 28, width = 28;
};

/// The framing a data set's images were made with (mnist: digit, fashion-mnist: product).
Framing framing_for_dataset(const std::string& dataset);
/// "auto", "yes" or "no"; throws a usage error naming `option` otherwise.
Invert parse_invert(const std::string& value, const std::string& option = "--invert");

/// Frames a uint8 image [C, H, W] into a uint8 image [C, height, width]: inverted when asked (or
/// when auto finds a light border), then for digits and products the background is set to black,
/// the object cropped, scaled and placed as the data set's were. Throws a data error when nothing
/// stands out from the background (a blank picture).
torch::Tensor frame_image(const torch::Tensor& image, const FramingOptions& options);

}  // namespace deepl::data
