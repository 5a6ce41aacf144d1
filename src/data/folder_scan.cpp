#include "folder_scan.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "deepl/core/error.h"
#include "deepl/data/image.h"

namespace deepl::data::folder {

namespace fs = std::filesystem;

namespace {

bool hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name.front() == '.';
}

std::vector<std::string> sub_folders(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    if (it->is_directory() && !hidden(it->path())) names.push_back(it->path().filename().string());
  }
  if (error) throw_data(fmt::format("{}: cannot list the folder ({})", dir.string(), error.message()));
  std::sort(names.begin(), names.end());
  return names;
}

int64_t modified_ns(const fs::path& path) {
  const auto since_epoch = fs::last_write_time(path).time_since_epoch();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count();
}

// Adds the pictures under root/relative_dir (recursively) as class `label` of `part`.
void add_class_folder(const fs::path& root, const fs::path& relative_dir, int64_t label, Part part, Scan& scan) {
  const fs::path dir = root / relative_dir;
  std::vector<PictureFile> found;
  std::error_code error;
  for (fs::recursive_directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    if (hidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    if (!is_image_file(it->path())) {
      ++scan.not_pictures;
      continue;
    }
    found.push_back({it->path().lexically_relative(root).generic_string(), label, part, it->file_size(),
                     modified_ns(it->path())});
  }
  if (error) throw_data(fmt::format("{}: cannot list the folder ({})", dir.string(), error.message()));
  if (found.empty()) {
    throw_data(fmt::format("{}: class folder \"{}\" holds no pictures (.png .jpg .jpeg .bmp .pgm .ppm .pnm)",
                           dir.string(), relative_dir.filename().string()));
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.relative < b.relative; });
  scan.files.insert(scan.files.end(), found.begin(), found.end());
}

void add_split(const fs::path& root, const std::string& split, Part part, Scan& scan) {
  for (const std::string& name : sub_folders(root / split)) {
    const auto it = std::find(scan.class_names.begin(), scan.class_names.end(), name);
    if (it == scan.class_names.end()) {
      throw_data(fmt::format("{}: class \"{}\" is not among the training classes in {}", (root / split / name).string(),
                             name, (root / "train").string()));
    }
    add_class_folder(root, fs::path(split) / name, it - scan.class_names.begin(), part, scan);
  }
}

// Moves round(fraction x n) of each class's training pictures (at most n - 1) to the test part,
// ordered by a hash of their names, so adding a picture moves few others.
void hold_out(Scan& scan, double fraction) {
  for (int64_t label = 0; label < static_cast<int64_t>(scan.class_names.size()); ++label) {
    std::vector<PictureFile*> members;
    for (auto& f : scan.files)
      if (f.label == label) members.push_back(&f);
    std::sort(members.begin(), members.end(), [](const PictureFile* a, const PictureFile* b) {
      const uint64_t ha = fnv1a(a->relative), hb = fnv1a(b->relative);
      return ha != hb ? ha < hb : a->relative < b->relative;
    });
    const auto n = static_cast<int64_t>(members.size());
    const int64_t held = std::min<int64_t>(std::llround(fraction * static_cast<double>(n)), n - 1);
    for (int64_t i = 0; i < held; ++i) members[i]->part = Part::kTest;
  }
}

}  // namespace

uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 1469598103934665603ULL;
  for (const unsigned char c : text) hash = (hash ^ c) * 1099511628211ULL;
  return hash;
}

Scan scan_folder(const fs::path& root, double test_fraction) {
  if (!fs::is_directory(root)) throw_data(fmt::format("{}: no such folder", root.string()));
  Scan scan;
  const std::vector<std::string> top = sub_folders(root);
  const auto has = [&](const char* name) { return std::find(top.begin(), top.end(), name) != top.end(); };
  scan.has_test = has("train") && has("test");
  if (scan.has_test) {
    scan.class_names = sub_folders(root / "train");
    for (int64_t label = 0; label < static_cast<int64_t>(scan.class_names.size()); ++label) {
      add_class_folder(root, fs::path("train") / scan.class_names[label], label, Part::kTrain, scan);
    }
    if (has("val")) add_split(root, "val", Part::kVal, scan);
    add_split(root, "test", Part::kTest, scan);
  } else {
    scan.class_names = top;
    for (int64_t label = 0; label < static_cast<int64_t>(top.size()); ++label) {
      add_class_folder(root, top[label], label, Part::kTrain, scan);
    }
    hold_out(scan, test_fraction);
  }
  if (scan.class_names.size() < 2) {
    throw_data(fmt::format("{}: found {} class folder(s); a classifier needs at least 2 (one sub-folder per class{})",
                           (scan.has_test ? root / "train" : root).string(), scan.class_names.size(),
                           scan.has_test ? "" : ", or train/ and test/ with class sub-folders"));
  }
  std::stable_sort(scan.files.begin(), scan.files.end(),
                   [](const PictureFile& a, const PictureFile& b) { return a.part < b.part; });
  return scan;
}

}  // namespace deepl::data::folder
