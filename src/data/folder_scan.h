#pragma once
// A folder of labelled pictures as a list of files: which class and which split each belongs to.
// Internal to the data layer (folder_source.cpp).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace deepl::data::folder {

enum class Part { kTrain, kVal, kTest };

struct PictureFile {
  std::string relative;  // to the folder, with '/' separators
  int64_t label = 0;
  Part part = Part::kTrain;
  uint64_t bytes = 0;
  int64_t modified_ns = 0;
};

struct Scan {
  std::vector<std::string> class_names;
  std::vector<PictureFile> files;  // by part, then class, then name
  int64_t not_pictures = 0;        // files skipped for their extension
  bool has_test = false;           // the folder brought its own test/ split
};

/// Lists `root`: one sub-folder per class, or train/ and test/ (and optionally val/) each with class
/// sub-folders. Without test/, round(test_fraction x n) of each class's n pictures (at most n - 1)
/// are held out by a hash of their names: the same files whatever the seed. Throws a data error
/// naming the folder when it is missing, a class folder holds no pictures, or there are fewer than
/// two classes.
Scan scan_folder(const std::filesystem::path& root, double test_fraction);

/// 64-bit FNV-1a of `text`, for cache keys and the held-out order.
uint64_t fnv1a(const std::string& text);

}  // namespace deepl::data::folder
