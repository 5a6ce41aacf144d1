#pragma once
// The frozen-backbone fast path of fine-tuning: when a VGG's whole backbone is frozen (and no
// augmentation changes the inputs), its features are computed once per data set, weights file and
// input transform, cached on disk, and the head trains on them: epochs cost seconds instead of a
// VGG forward pass over every image. config::ExperimentPlan::model.cache_features says when. Internal.
#include <filesystem>
#include <string>

#include "deepl/data/dataset.h"
#include "deepl/data/loader.h"
#include "deepl/models/vgg.h"
#include "deepl/core/precision.h"

namespace deepl::run {

/// The backbone features of every image of `images` ([N, 512, h, w] float), read from the cache
/// folder when a file with the same key exists, else computed and written there. The key hashes
/// the weights file's bytes and the transform (depth, input size, normalisation, data set split).
data::Dataset cached_features(models::VggImpl& vgg, const data::Dataset& images, const std::string& split,
                              const data::Normalization& normalization, const std::string& weights_file,
                              const std::filesystem::path& cache_dir, const deepl::Precision& precision);

}  // namespace deepl::run
