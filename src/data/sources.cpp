#include "deepl/data/sources.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "deepl/core/error.h"
#include "deepl/data/idx.h"
#include "folder_source.h"
#include "table_source.h"

namespace deepl::data {

namespace {

// "0".."K-1" for K = one more than the largest label in either split.
std::vector<std::string> numbered_classes(const IdxSource& s) {
  int64_t largest = 0;
  for (const auto& labels : {s.train_labels, s.test_labels}) {
    const torch::Tensor t = read_idx(labels);
    if (t.numel() > 0 && !t.is_floating_point()) largest = std::max(largest, t.max().item<int64_t>());
  }
  std::vector<std::string> names;
  for (int64_t k = 0; k <= largest; ++k) names.push_back(std::to_string(k));
  return names;
}

Dataset idx_split(const IdxSource& s, Split split) {
  std::vector<std::string> names = s.class_names.empty() ? numbered_classes(s) : s.class_names;
  if (names.size() < 2) throw_data(fmt::format("{}: labels name {} class(es); a classifier needs at least 2",
                                               s.train_labels.string(), names.size()));
  if (split == Split::kTrain) return load_idx_pair(s.train_images, s.train_labels, std::move(names), "idx");
  return load_idx_pair(s.test_images, s.test_labels, std::move(names), "idx");
}

}  // namespace

SourceKind source_kind(const std::string& dataset) {
  if (dataset == "folder") return SourceKind::kFolder;
  if (dataset == "idx") return SourceKind::kIdx;
  if (dataset == "csv") return SourceKind::kCsv;
  return SourceKind::kRegistered;
}

Dataset load_split(const SourceOptions& source, Split split, const LoadProgress& progress) {
  switch (source.kind) {
    case SourceKind::kFolder: return folder_split(source.folder, split, progress);
    case SourceKind::kIdx: return idx_split(source.idx, split);
    case SourceKind::kCsv: return csv_split(source.csv, split);
    case SourceKind::kRegistered: break;
  }
  return load_dataset(source.dataset, split, source.root);
}

}  // namespace deepl::data
