#pragma once
// Where a run's examples come from (`data.dataset`): a registered set (mnist, fashion-mnist), a
// folder of labelled pictures, any pair of IDX image and label files, or a CSV table. load_split
// gives either split as an in-memory Dataset, the same way for every source, so everything above
// (loaders, trainer, evaluation, reports) is source-blind.
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "deepl/data/dataset.h"

namespace deepl::data {

enum class SourceKind { kRegistered, kFolder, kIdx, kCsv };

/// How a picture is brought to the data set's image size.
enum class ResizePolicy {
  kFit,      // scaled to fit inside, aspect ratio kept, centred on black
  kStretch,  // scaled to the size, aspect ratio ignored
  kCrop,     // scaled to cover the size, aspect ratio kept, centre cropped
};

/// A folder with one sub-folder per class (class names = folder names, sorted), or with train/ and
/// test/ (optionally val/) each holding class sub-folders.
struct FolderSource {
  std::filesystem::path path;
  double test_fraction = 0.2;       // held out (stratified, by file name) when there is no test/
  std::array<int64_t, 2> image_size{0, 0};  // [H, W]; 0: the most common size among the pictures
  int64_t channels = 0;             // 1 or 3; 0: 3 if any picture has colour, else 1
  ResizePolicy resize = ResizePolicy::kFit;
  bool skip_bad_images = false;     // false: a picture that does not decode is an error naming it
  std::filesystem::path cache_dir;  // "": <path>/.deepl-cache, else the user's cache folder
};

/// Two IDX image files and their label files (raw or gzip).
struct IdxSource {
  std::filesystem::path train_images, train_labels, test_images, test_labels;
  std::vector<std::string> class_names;  // empty: "0".."K-1"
};

/// What a table's target column is learned as.
enum class TableTask {
  kAuto,            // classification when the target is text or a few distinct integers, else regression
  kClassification,  // the target's distinct values are the classes
  kRegression,      // the target is a number to predict
};

/// A CSV table with a header line: one row per example, `target` names the column to learn (class
/// labels or a quantity), the features are numbers.
struct CsvSource {
  std::filesystem::path path;
  std::string target;
  std::vector<std::string> features;  // empty: every column but the target
  double test_fraction = 0.2;         // held out (per class) by a hash of the row's line number
  TableTask task = TableTask::kAuto;
};

struct SourceOptions {
  SourceKind kind = SourceKind::kRegistered;
  std::string dataset;          // the registered name (kRegistered) or the kind's name
  std::filesystem::path root;   // where registered sets live
  FolderSource folder;
  IdxSource idx;
  CsvSource csv;
};

/// Called as a folder's pictures decode: how many are done of how many.
using LoadProgress = std::function<void(int64_t done, int64_t total)>;

/// "folder", "idx", "csv", or a registered name -> its kind.
SourceKind source_kind(const std::string& dataset);

/// One split of the source. A folder without a test split holds out its
/// test_fraction deterministically (the same files for every seed and run); a folder with val/
/// puts its pictures last in the training split and names them in Dataset::validation.
Dataset load_split(const SourceOptions& source, Split split, const LoadProgress& progress = {});

/// One split of a CSV table given as text (the file's contents): features as float [N, F],
/// standardised with the mean and standard deviation of the training split's rows (in
/// Dataset::feature_mean/feature_std, the same for both splits). A regression target is
/// standardised the same way (Dataset::target_mean/target_std) and is the one "class" name. A ragged row, a missing value or a
/// field that is not a number is a data error naming the line and column; an unknown target or
/// feature column a usage error listing the columns.
Dataset table_from_csv(std::string_view text, const CsvSource& source, Split split);

/// The named feature columns of a CSV file's rows (other columns ignored), standardised with
/// `mean` and `sd`: the inputs for a model trained on a table.
torch::Tensor csv_feature_rows(const std::filesystem::path& file, const std::vector<std::string>& features,
                               const std::vector<double>& mean, const std::vector<double>& sd);

/// Brings a decoded picture [C, h, w] (uint8) to [C, height, width] by `policy`: area averaging
/// when shrinking, bilinear when growing; unchanged when already that size.
torch::Tensor resize_picture(const torch::Tensor& image, int64_t height, int64_t width, ResizePolicy policy);

}  // namespace deepl::data
