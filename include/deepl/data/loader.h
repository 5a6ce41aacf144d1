#pragma once
// Splits and batches. The loader keeps the data set as uint8 in memory and, per batch, gathers
// the batch's indices in one index_select, converts to float, applies the transforms and
// normalises: no per-example copies and no float copy of the whole data set.
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "deepl/data/dataset.h"

namespace deepl::data {

/// Per-channel mean and standard deviation in [0, 1] pixel units (one value = all channels).
struct Normalization {
  std::vector<double> mean{0.0};
  std::vector<double> std{1.0};
};

/// Mean/std of the pixels of `indices` (all when undefined), computed in chunks.
Normalization compute_normalization(const Dataset& data, const torch::Tensor& indices = {});

struct SplitIndices {
  torch::Tensor train;  // int64, sorted
  torch::Tensor val;    // int64, sorted (empty when val_fraction == 0)
};

/// Deterministic train/validation split of `labels` by seed; with `stratified`, every class
/// contributes round(val_fraction * its count) examples to validation.
SplitIndices split_train_val(const torch::Tensor& labels, double val_fraction, uint64_t seed, bool stratified);
/// A permutation of 0..n-1 drawn from a generator seeded with `seed` (same on every machine).
torch::Tensor seeded_permutation(int64_t n, uint64_t seed);

struct Batch {
  torch::Tensor inputs;   // float, [B, C, H, W], transformed and normalised
  torch::Tensor targets;  // int64, [B]
  torch::Tensor indices;  // int64, [B]: positions in the data set
  int64_t global_examples = 0;  // examples in this batch across all ranks (B when not data-parallel)
};

/// A batch-level transform on float inputs in [0, 255] pixel units, before normalisation.
/// `generator` is seeded per (seed, epoch, batch), so results do not depend on call order.
using Transform = std::function<torch::Tensor(const torch::Tensor& inputs, torch::Generator& generator)>;
/// Pads each image by `padding` pixels (zeros) and crops a random window of the original size.
Transform random_crop(int64_t padding);
/// Flips each image left-right with probability p.
Transform horizontal_flip(double p = 0.5);
/// torchvision's RandomErasing(p, scale, ratio, value=0): with probability p, zeroes one rectangle
/// of each image, of area scale x the image's and aspect ratio log-uniform in `ratio`, drawn
/// with up to 10 attempts to fit (none fits: the image is left alone). Whole batches at once: the
/// rectangles become one mask, no per-image tensors.
Transform random_erasing(double p, std::pair<double, double> scale = {0.02, 0.33},
                         std::pair<double, double> ratio = {0.3, 3.3});

/// torchvision's RandomResizedCrop at the images' own size: a window of area scale x the image's
/// (drawn in [min_scale, 1]) and aspect ratio log-uniform in [3/4, 4/3], first of 10 draws that
/// fits (none: the whole image), scaled back to the full size bilinearly. One grid_sample per batch.
Transform random_resized_crop(double min_scale);
/// torchvision's ColorJitter(brightness, contrast, saturation) with factors drawn per image in
/// [max(0, 1 - s), 1 + s], applied in that order: brightness scales the pixels, contrast blends with
/// the image's mean gray level, saturation with its gray version (RGB only). 0 leaves one out.
Transform colour_jitter(double brightness, double contrast, double saturation);

/// The training augmentations a config asks for (each off by default).
struct AugmentationOptions {
  int64_t random_crop = 0;      // pad by N pixels and crop randomly
  double random_resized_crop = 0.0;  // smallest area fraction of a random resized crop (0: off)
  bool hflip = false;           // random left-right flips
  std::array<double, 3> colour_jitter{0.0, 0.0, 0.0};  // brightness, contrast, saturation strengths
  double random_erasing = 0.0;  // probability of erasing a rectangle
  std::pair<double, double> erasing_scale{0.02, 0.33}, erasing_ratio{0.3, 3.3};
};
/// The transforms `options` ask for, in the order crop, resized crop, flip, colour jitter, erase.
std::vector<Transform> make_transforms(const AugmentationOptions& options);

/// The batch `x` [B, C, H, W] (float) at height x width: area averaging when shrinking (no
/// aliasing), bilinear when growing.
torch::Tensor resize_images(const torch::Tensor& x, int64_t height, int64_t width);

/// Progressive resizing (as EfficientNetV2's progressive learning): the training epochs split into
/// `sizes.size()` equal stages, stage k's batches resized to sizes[k] x sizes[k] after the other
/// transforms. Repeat a size to give it more epochs. Empty: the images' own size throughout.
struct ProgressiveResize {
  std::vector<int64_t> sizes;
  int64_t epochs = 1;  // of the whole run, which the stages split
  /// The image side for `epoch` (numbered from 1, as the trainer does), or 0 when off.
  int64_t size_at(int64_t epoch) const;
};

struct LoaderOptions {
  int64_t batch_size = 64;  // global batch: each of world_size ranks takes batch_size / world_size
  bool shuffle = false;
  bool drop_last = false;
  uint64_t seed = 0;
  Normalization normalization;
  std::vector<Transform> transforms;
  ProgressiveResize progressive;
  int64_t rank = 0;
  int64_t world_size = 1;
  /// Where batches go: inputs and targets are copied there from pinned host memory without
  /// waiting (indices stay on the CPU). The data set itself stays in host memory.
  torch::Device device = torch::kCPU;
};

class BatchLoader {
 public:
  /// Batches over `indices` (int64 positions in `data`; all of it when undefined).
  BatchLoader(Dataset data, torch::Tensor indices, LoaderOptions options);

  /// Draws the epoch's order (when shuffling) from (seed, epoch).
  void set_epoch(int64_t epoch);
  /// Batches per epoch, the same on every rank (a rank's share of the last one may be short or empty).
  int64_t num_batches() const;
  /// Examples this rank sees per epoch.
  int64_t num_examples() const;
  /// The i-th batch of the current epoch (0 <= i < num_batches()).
  Batch batch(int64_t i) const;

  const Dataset& dataset() const { return data_; }
  const LoaderOptions& options() const { return options_; }
  /// Gathers, converts and normalises the given data-set positions, without transforms.
  torch::Tensor gather(const torch::Tensor& positions) const;

 private:
  torch::Tensor normalise(torch::Tensor pixels) const;
  int64_t local_batch_size() const;

  Dataset data_;
  torch::Tensor indices_;
  LoaderOptions options_;
  int64_t epoch_ = 0;
  torch::Tensor order_;  // this rank's positions for the epoch
  torch::Tensor scale_, shift_;  // per-channel normalisation as x * scale + shift
};

}  // namespace deepl::data
