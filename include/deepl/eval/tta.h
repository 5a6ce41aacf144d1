#pragma once
// Test-time augmentation (config eval.tta): evaluation and prediction average a model's outputs
// over several views of each image.

namespace deepl::eval {

struct TestTimeAugmentation {
  bool hflip = false;  // "hflip": also the left-right mirror image
  bool shift = false;  // "shift": also the image moved one pixel up, down, left and right (edges repeated)

  /// Views per image: 1, 2 (hflip), 5 (shift) or 10 (both: each shifted view mirrored too).
  int views() const { return (shift ? 5 : 1) * (hflip ? 2 : 1); }
};

}  // namespace deepl::eval
