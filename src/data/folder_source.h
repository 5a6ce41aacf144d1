#pragma once
// A folder of pictures decoded (or read from its cache) and split. Internal to the data layer.
#include <torch/types.h>

#include <vector>

#include "deepl/data/sources.h"
#include "folder_scan.h"

namespace deepl::data {

struct DecodedFolder {
  folder::Scan scan;
  torch::Tensor pixels;      // uint8 [N, C, H, W], in scan order
  std::vector<int64_t> bad;  // scan positions left out (data.on_bad_image "skip"), sorted
};

/// Scans the folder and decodes its pictures, or reads them from the cache when no file changed.
DecodedFolder decode_folder(const FolderSource& options, const LoadProgress& progress);
/// One split of the folder as a Dataset whose `files` name each picture.
Dataset folder_split(const FolderSource& options, Split split, const LoadProgress& progress);

}  // namespace deepl::data
