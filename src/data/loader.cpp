#include "deepl/data/loader.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "deepl/core/error.h"
#include "deepl/core/runtime.h"

namespace deepl::data {

namespace {

torch::Generator make_generator(uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return gen;
}

torch::Tensor as_nchw(const torch::Tensor& images) { return images.dim() == 3 ? images.unsqueeze(1) : images; }

}  // namespace

torch::Tensor seeded_permutation(int64_t n, uint64_t seed) {
  auto gen = make_generator(seed);
  return torch::randperm(n, gen, torch::kInt64);
}

Normalization compute_normalization(const Dataset& data, const torch::Tensor& indices) {
  const torch::Tensor images = as_nchw(data.images);
  const int64_t n = indices.defined() ? indices.numel() : images.size(0);
  if (n == 0) throw_data(data.name + ": cannot compute normalisation of an empty split");
  const int64_t channels = images.size(1);
  torch::Tensor sum = torch::zeros({channels}, torch::kFloat64);
  torch::Tensor sum_sq = torch::zeros({channels}, torch::kFloat64);
  constexpr int64_t kChunk = 8192;
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t len = std::min(kChunk, n - start);
    torch::Tensor chunk = indices.defined() ? images.index_select(0, indices.narrow(0, start, len))
                                            : images.narrow(0, start, len);
    chunk = chunk.to(torch::kFloat64).div_(255.0);
    sum += chunk.sum({0, 2, 3});
    sum_sq += chunk.pow(2).sum({0, 2, 3});
  }
  const double per_channel = static_cast<double>(n * images.size(2) * images.size(3));
  Normalization out;
  out.mean.clear();
  out.std.clear();
  for (int64_t c = 0; c < channels; ++c) {
    const double mean = sum[c].item<double>() / per_channel;
    const double var = std::max(0.0, sum_sq[c].item<double>() / per_channel - mean * mean);
    out.mean.push_back(mean);
    out.std.push_back(std::sqrt(var) > 1e-12 ? std::sqrt(var) : 1.0);
  }
  return out;
}

SplitIndices split_train_val(const torch::Tensor& labels, double val_fraction, uint64_t seed, bool stratified) {
  if (val_fraction < 0.0 || val_fraction >= 1.0) {
    throw_usage(fmt::format("validation fraction {} is outside [0, 1)", val_fraction));
  }
  const int64_t n = labels.size(0);
  std::vector<torch::Tensor> train_parts, val_parts;
  auto take = [&](const torch::Tensor& pool, uint64_t stream) {
    const torch::Tensor shuffled = pool.index_select(0, seeded_permutation(pool.numel(), derive_seed(seed, stream)));
    const auto n_val = static_cast<int64_t>(std::llround(val_fraction * static_cast<double>(pool.numel())));
    val_parts.push_back(shuffled.narrow(0, 0, n_val));
    train_parts.push_back(shuffled.narrow(0, n_val, pool.numel() - n_val));
  };
  if (stratified) {
    const int64_t classes = labels.numel() ? labels.max().item<int64_t>() + 1 : 0;
    for (int64_t c = 0; c < classes; ++c) take(torch::nonzero(labels == c).flatten(), static_cast<uint64_t>(c));
  } else {
    take(torch::arange(n, torch::kInt64), 0);
  }
  SplitIndices out;
  out.train = std::get<0>(torch::cat(train_parts).sort());
  out.val = val_parts.empty() ? torch::empty({0}, torch::kInt64) : std::get<0>(torch::cat(val_parts).sort());
  return out;
}

Transform random_crop(int64_t padding) {
  return [padding](const torch::Tensor& x, torch::Generator& gen) {
    if (padding <= 0) return x;
    const int64_t b = x.size(0), h = x.size(2), w = x.size(3);
    const torch::Tensor padded = torch::constant_pad_nd(x, {padding, padding, padding, padding}, 0.0);
    const torch::Tensor offsets = torch::randint(0, 2 * padding + 1, {b, 2}, gen, torch::kInt64);
    const auto* off = offsets.data_ptr<int64_t>();
    torch::Tensor out = torch::empty_like(x);
    for (int64_t i = 0; i < b; ++i) {
      out[i].copy_(padded[i].narrow(1, off[2 * i], h).narrow(2, off[2 * i + 1], w));
    }
    return out;
  };
}

Transform horizontal_flip(double p) {
  return [p](const torch::Tensor& x, torch::Generator& gen) {
    const torch::Tensor flip = torch::rand({x.size(0), 1, 1, 1}, gen, torch::kFloat32) < p;
    return torch::where(flip, x.flip({3}), x);
  };
}

Transform random_erasing(double p, std::pair<double, double> scale, std::pair<double, double> ratio) {
  return [=](const torch::Tensor& x, torch::Generator& gen) {
    constexpr int64_t kAttempts = 10;
    const int64_t b = x.size(0), height = x.size(2), width = x.size(3);
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    const torch::Tensor erase = torch::rand({b}, gen, f64) < p;
    const torch::Tensor area = static_cast<double>(height * width) *
                               (scale.first + (scale.second - scale.first) * torch::rand({b, kAttempts}, gen, f64));
    const double log_lo = std::log(ratio.first), log_hi = std::log(ratio.second);
    const torch::Tensor aspect = torch::exp(log_lo + (log_hi - log_lo) * torch::rand({b, kAttempts}, gen, f64));
    const torch::Tensor h = torch::round(torch::sqrt(area * aspect)).to(torch::kInt64);
    const torch::Tensor w = torch::round(torch::sqrt(area / aspect)).to(torch::kInt64);
    const torch::Tensor fits = (h < height) & (w < width);
    // The first attempt that fits, as torchvision's loop takes it.
    const torch::Tensor first = std::get<1>(fits.to(torch::kInt64).max(1, true));  // [b, 1]
    const torch::Tensor eh = h.gather(1, first).squeeze(1), ew = w.gather(1, first).squeeze(1);
    const torch::Tensor applies = erase & fits.any(1);
    // Uniform integers in [0, size - extent], as torch.randint(0, size - extent + 1).
    const auto offset = [&](int64_t size, const torch::Tensor& extent) {
      return (torch::rand({b}, gen, f64) * (size - extent + 1).to(torch::kFloat64)).floor().to(torch::kInt64);
    };
    const torch::Tensor top = offset(height, eh);
    const torch::Tensor left = offset(width, ew);
    const torch::Tensor rows = torch::arange(height, torch::kInt64).view({1, height});
    const torch::Tensor cols = torch::arange(width, torch::kInt64).view({1, width});
    const torch::Tensor in_rows = (rows >= top.view({b, 1})) & (rows < (top + eh).view({b, 1}));
    const torch::Tensor in_cols = (cols >= left.view({b, 1})) & (cols < (left + ew).view({b, 1}));
    const torch::Tensor mask =
        in_rows.view({b, 1, height, 1}) & in_cols.view({b, 1, 1, width}) & applies.view({b, 1, 1, 1});
    return x.masked_fill(mask, 0.0);
  };
}

std::vector<Transform> make_transforms(const AugmentationOptions& o) {
  std::vector<Transform> transforms;
  if (o.random_crop > 0) transforms.push_back(random_crop(o.random_crop));
  if (o.random_resized_crop > 0) transforms.push_back(random_resized_crop(o.random_resized_crop));
  if (o.hflip) transforms.push_back(horizontal_flip());
  const auto& [brightness, contrast, saturation] = o.colour_jitter;
  if (brightness > 0 || contrast > 0 || saturation > 0) transforms.push_back(colour_jitter(brightness, contrast, saturation));
  if (o.random_erasing > 0) transforms.push_back(random_erasing(o.random_erasing, o.erasing_scale, o.erasing_ratio));
  return transforms;
}

torch::Tensor resize_images(const torch::Tensor& x, int64_t height, int64_t width) {
  namespace F = torch::nn::functional;
  if (height == x.size(2) && width == x.size(3)) return x;
  if (height <= x.size(2) && width <= x.size(3)) {
    return F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions({height, width}));
  }
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{height, width})
                               .mode(torch::kBilinear)
                               .align_corners(false));
}

int64_t ProgressiveResize::size_at(int64_t epoch) const {
  if (sizes.empty()) return 0;
  const auto stages = static_cast<int64_t>(sizes.size());
  const int64_t stage = std::clamp<int64_t>((epoch - 1) * stages / std::max<int64_t>(1, epochs), 0, stages - 1);
  return sizes[static_cast<size_t>(stage)];
}

BatchLoader::BatchLoader(Dataset data, torch::Tensor indices, LoaderOptions options)
    : data_(std::move(data)), options_(std::move(options)) {
  indices_ = indices.defined() ? indices.to(torch::kInt64) : torch::arange(data_.size(), torch::kInt64);
  if (options_.batch_size <= 0) throw_usage("batch size must be positive");
  if (options_.world_size < 1 || options_.rank < 0 || options_.rank >= options_.world_size) {
    throw_usage(fmt::format("rank {} is outside world size {}", options_.rank, options_.world_size));
  }
  if (options_.batch_size % options_.world_size != 0) {
    throw_usage(fmt::format("batch size {} is not divisible by world size {}", options_.batch_size, options_.world_size));
  }
  const auto& norm = options_.normalization;
  const int64_t channels = data_.images.is_floating_point() ? 1 : data_.image_shape()[0];
  std::vector<float> scale(channels), shift(channels);
  for (int64_t c = 0; c < channels; ++c) {
    const double mean = norm.mean.size() == 1 ? norm.mean[0] : norm.mean.at(c);
    const double sd = norm.std.size() == 1 ? norm.std[0] : norm.std.at(c);
    scale[c] = static_cast<float>(1.0 / (255.0 * sd));
    shift[c] = static_cast<float>(-mean / sd);
  }
  scale_ = torch::tensor(scale).view({1, channels, 1, 1});
  shift_ = torch::tensor(shift).view({1, channels, 1, 1});
  set_epoch(0);
}

void BatchLoader::set_epoch(int64_t epoch) {
  epoch_ = epoch;
  torch::Tensor order = indices_;
  if (options_.shuffle) {
    order = indices_.index_select(0, seeded_permutation(indices_.numel(), derive_seed(options_.seed, 1000 + epoch)));
  }
  // Rank r takes every world-th position of the epoch's global order, starting at r. Global batch i
  // covers positions [i*B, (i+1)*B), so its share on each rank is that rank's local batch i: the
  // ranks together see exactly the single-process batches, each example once, tails included.
  order_ = options_.world_size > 1 ? order.slice(0, options_.rank, order.numel(), options_.world_size) : order;
}

int64_t BatchLoader::local_batch_size() const { return options_.batch_size / options_.world_size; }

int64_t BatchLoader::num_examples() const {
  return options_.drop_last ? num_batches() * local_batch_size() : order_.numel();
}

int64_t BatchLoader::num_batches() const {
  const int64_t n = indices_.numel();
  const int64_t b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

torch::Tensor BatchLoader::normalise(torch::Tensor pixels) const {
  return pixels.mul_(scale_).add_(shift_);
}

torch::Tensor BatchLoader::gather(const torch::Tensor& positions) const {
  if (data_.images.is_floating_point()) return data_.images.index_select(0, positions);
  return normalise(as_nchw(data_.images.index_select(0, positions)).to(torch::kFloat32));
}

namespace {

void move_to(Batch& b, const torch::Device& device) {
  if (device.is_cpu()) return;
  b.inputs = b.inputs.pin_memory().to(device, /*non_blocking=*/true);
  b.targets = b.targets.pin_memory().to(device, /*non_blocking=*/true);
}

}  // namespace

Batch BatchLoader::batch(int64_t i) const {
  if (i < 0 || i >= num_batches()) throw_failure(fmt::format("batch {} out of range 0..{}", i, num_batches() - 1));
  const int64_t start = i * local_batch_size();
  const int64_t len = std::max<int64_t>(0, std::min(local_batch_size(), order_.numel() - start));
  Batch b;
  b.global_examples = std::min(options_.batch_size, indices_.numel() - i * options_.batch_size);
  b.indices = order_.narrow(0, std::min(start, order_.numel()), len);
  b.targets = data_.labels.index_select(0, b.indices);
  if (data_.images.is_floating_point()) {  // precomputed features: no pixel transforms
    b.inputs = data_.images.index_select(0, b.indices);
    move_to(b, options_.device);
    return b;
  }
  torch::Tensor pixels = as_nchw(data_.images.index_select(0, b.indices)).to(torch::kFloat32);
  if (!options_.transforms.empty()) {
    auto gen = make_generator(derive_seed(derive_seed(options_.seed, 2000 + epoch_), static_cast<uint64_t>(i)));
    for (const auto& t : options_.transforms) pixels = t(pixels, gen);
  }
  if (const int64_t side = options_.progressive.size_at(epoch_)) pixels = resize_images(pixels, side, side);
  b.inputs = normalise(std::move(pixels));
  move_to(b, options_.device);
  return b;
}

}  // namespace deepl::data
